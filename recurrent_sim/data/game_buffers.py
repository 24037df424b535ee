"""One sample buffer fed by several games played at once.

Each game's transitions go into a ring of their own (a
:class:`SampleBuffer` of ``capacity // n_games`` transitions), so a training
sequence never joins frames of two games; batches are drawn uniformly over
the valid sequences of all the rings together. It has the interface of
:class:`SampleBuffer` that the simulator trainer uses (``append`` takes the
game's index).
"""
import logging

import numpy as np

from recurrent_sim.data.buffer import SampleBuffer, SequenceBatch

logger = logging.getLogger(__name__)


class MultiGameBuffer:
    """Transitions of ``n_games`` games, one ring each, sampled as one set of sequences.

    Args:
        capacity: transitions kept in all (each game keeps ``capacity // n_games``).
        frame_shape: ``(H, W)`` of the uint8 frames.
        n_games: games feeding it (>= 1).
        seed: int seed of the sampling.
    """

    def __init__(self, capacity: int, frame_shape, n_games: int, seed=None):
        if n_games < 1:
            raise ValueError(f"n_games must be >= 1, got {n_games}")
        if capacity // n_games < 1:
            raise ValueError(f"capacity {capacity} cannot hold {n_games} games")
        sequences = np.random.SeedSequence(seed).spawn(n_games + 1)
        self.games = [SampleBuffer(capacity // n_games, frame_shape, seed=np.random.default_rng(s))
                      for s in sequences[1:]]
        self._rng = np.random.default_rng(sequences[0])

    @property
    def capacity(self) -> int:
        return sum(game.capacity for game in self.games)

    @property
    def frame_shape(self):
        return self.games[0].frame_shape

    @property
    def nbytes(self) -> int:
        return sum(game.nbytes for game in self.games)

    @property
    def total_appended(self) -> int:
        """Transitions appended by all games since creation."""
        return sum(game.total_appended for game in self.games)

    def __len__(self) -> int:
        return sum(len(game) for game in self.games)

    def append(self, frame, action, reward, episode_end, game=0) -> None:
        """Store one transition of game ``game`` (see :meth:`SampleBuffer.append`)."""
        self.games[game].append(frame, action, reward, episode_end)

    def num_valid_starts(self, seq_len: int) -> int:
        return sum(game.num_valid_starts(seq_len) for game in self.games)

    def can_sample(self, seq_len: int) -> bool:
        return any(game.can_sample(seq_len) for game in self.games)

    def sample(self, batch_size: int, seq_len: int) -> SequenceBatch:
        """``batch_size`` sequences drawn uniformly (with replacement) over the valid
        sequences of every game; ``starts`` are positions in each game's ring."""
        counts = np.array([game.num_valid_starts(seq_len) for game in self.games], dtype=np.float64)
        if counts.sum() == 0:
            return self.games[0].sample(batch_size, seq_len)  # raises its ValueError
        per_game = np.bincount(self._rng.choice(len(self.games), size=batch_size, p=counts / counts.sum()),
                               minlength=len(self.games))
        parts = [game.sample(int(k), seq_len) for game, k in zip(self.games, per_game) if k]
        return SequenceBatch(*(None if arrays[0] is None else np.concatenate(arrays) for arrays in zip(*parts)))

    def first_frames(self, n: int) -> np.ndarray:
        """Up to ``n`` of the oldest stored frames, an equal share from each game, ``(k, H, W)`` uint8."""
        share = -(-n // len(self.games))
        return np.concatenate([game.first_frames(share) for game in self.games])[:n]
