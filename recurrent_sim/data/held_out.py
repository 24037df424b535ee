"""Whole episodes held out of online training, to measure the simulator on play it never trained on.

Online training (the original script) has no recorded validation set: the
transitions arrive one by one. :class:`HeldOutEpisodes` sets whole episodes
aside as they are played, for each game separately (one game, or each game
of a ``MultiGameBuffer``):

* an episode is held out when, at its first transition, the transitions held
  out so far are fewer than ``fraction`` (a tenth by default) of all the
  transitions of that game: so the second episode is held out, and later
  about one in ten, keeping the share near ``fraction``;
* a held-out episode goes into a store of its own (a :class:`SampleBuffer`
  of ``fraction * capacity`` transitions per game), never into the training
  buffer; once the store is full, nothing more is held out (the rest of the
  episode being stored trains), so the validation set is fixed from then on
  and errors measured later compare with each other;
* whole episodes keep every training sequence inside one episode (the
  training buffer's transition before a held-out episode ended its episode).

:meth:`HeldOutEpisodes.batches` gives the validation sequences: up to
``sequences`` of them, at evenly spaced valid starts of the stores (the
same sequences for the same stored content).
"""
import numpy as np

from recurrent_sim.data.buffer import SampleBuffer, SequenceBatch


class HeldOutEpisodes:
    """Decides, transition by transition, which episodes are held out, and stores them.

    Args:
        capacity: transitions of the training buffer (all games together).
        frame_shape: ``(H, W)`` of the uint8 frames.
        n_games: games feeding the training buffer (1 for a :class:`SampleBuffer`).
        fraction: share of the transitions held out, in (0, 1).
    """

    def __init__(self, capacity: int, frame_shape, n_games: int = 1, fraction: float = 0.1):
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        per_game = max(1, int(capacity * fraction) // n_games)
        self.fraction = float(fraction)
        self.stores = [SampleBuffer(per_game, frame_shape) for _ in range(n_games)]
        self._seen = [0] * n_games  # transitions of each game
        self._held = [0] * n_games  # of which held out
        self._episode_held = [False] * n_games  # the current episode of each game is held out
        self._episode_start = [True] * n_games  # the next transition of each game starts an episode

    def __len__(self) -> int:
        """Transitions held out, all games together."""
        return sum(self._held)

    def take(self, frame, action, reward, episode_end, game: int = 0) -> bool:
        """Store the transition if its episode is held out; returns whether it was (else it trains).

        Args:
            frame: ``(H, W)`` uint8 frame the action was taken on.
            action: int action; reward: float; episode_end: the transition ended the episode.
            game: index of the game that made it.
        """
        store = self.stores[game]
        if self._episode_start[game]:
            self._episode_held[game] = self._held[game] < self.fraction * self._seen[game]
        self._episode_start[game] = bool(episode_end)
        self._seen[game] += 1
        if not self._episode_held[game] or len(store) == store.capacity:
            self._episode_held[game] = False
            return False
        store.append(frame, action, reward, episode_end)
        self._held[game] += 1
        return True

    def batches(self, sequences: int, seq_len: int, batch_size: int) -> list:
        """The validation set: up to ``sequences`` sequences of ``seq_len`` frames, evenly spaced
        over each store's valid starts (shared between the games by their valid starts), as
        :class:`SequenceBatch` es of at most ``batch_size``; an empty list while no store holds one."""
        starts = [store.valid_starts(seq_len) for store in self.stores]
        total = sum(len(valid) for valid in starts)
        if total == 0:
            return []
        chosen = []
        for store, valid in zip(self.stores, starts):
            share = int(round(sequences * len(valid) / total)) if len(self.stores) > 1 else sequences
            if len(valid) and share:
                picks = np.unique(np.linspace(0, len(valid) - 1, min(share, len(valid))).round().astype(np.int64))
                chosen.append(store.sequences_at(valid[picks], seq_len))
        whole = SequenceBatch(*(None if parts[0] is None else np.concatenate(parts) for parts in zip(*chosen)))
        return [SequenceBatch(*(None if array is None else array[i:i + batch_size] for array in whole))
                for i in range(0, len(whole.frames), batch_size)]
