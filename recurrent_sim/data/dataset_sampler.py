"""Training and validation sequences drawn from recorded episodes.

Episodes are split once into training and held-out validation episodes
(whole episodes, so no validation frame is ever trained on). Training
sequences are drawn in shuffled passes ("epochs") over every window of
``sequence_length`` consecutive frames of the training episodes; the
sampler's position in the pass and its random state are plain JSON, saved in
checkpoints, so a resumed run draws exactly the batches the uninterrupted
run would have. Validation uses a fixed, evenly spread set of windows.
"""
import logging

import numpy as np

from recurrent_sim.data.buffer import SequenceBatch
from recurrent_sim.data.episodes import DatasetError

logger = logging.getLogger(__name__)


def split_episodes(frame_counts, sequence_length, validation_fraction, seed):
    """Split episodes into training and validation, by whole episodes.

    Only episodes with at least ``sequence_length`` frames can hold a
    sequence; the others are left out of both sets. ``round(fraction * n)``
    of the n usable episodes (at least one when the fraction is positive,
    never all) are chosen at random with ``seed``.

    Args:
        frame_counts: frames per episode (steps + 1).
        sequence_length: frames per sequence (unroll_dep + obs_dep + pred_dep + 1).
        validation_fraction: share of usable episodes held out, in [0, 1).
        seed: int seed of the choice.
    Returns:
        ``(train, validation)``: sorted lists of episode indices.
    Raises:
        DatasetError: no episode is long enough, or a validation set is
            asked for with a single usable episode.
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    frame_counts = [int(n) for n in frame_counts]
    usable = [i for i, n in enumerate(frame_counts) if n >= sequence_length]
    if not usable:
        raise DatasetError(
            f"dataset too small: a training sequence needs unroll_dep + obs_dep + pred_dep + 1 = "
            f"{sequence_length} consecutive frames of one episode, the longest episode has "
            f"{max(frame_counts, default=0)}; collect longer episodes or shorten the sequence"
        )
    skipped = len(frame_counts) - len(usable)
    if skipped:
        logger.info("%d episode(s) shorter than %d frames are not used", skipped, sequence_length)
    if validation_fraction == 0:
        return usable, []
    if len(usable) < 2:
        raise DatasetError(
            f"dataset too small: holding out validation episodes needs at least 2 episodes of "
            f"{sequence_length} frames or more, there is 1; collect more episodes or pass --validation-fraction 0"
        )
    n_validation = min(max(1, int(round(validation_fraction * len(usable)))), len(usable) - 1)
    chosen = np.random.default_rng(seed).permutation(len(usable))[:n_validation]
    validation = sorted(usable[i] for i in chosen)
    train = [i for i in usable if i not in set(validation)]
    return train, validation


def _window_table(episodes, indices, sequence_length):
    """(episode, offset) int64 pairs of every window of the episodes ``indices``."""
    tables = [
        np.stack([np.full(n, i, dtype=np.int64), np.arange(n, dtype=np.int64)], axis=1)
        for i in indices
        for n in [len(episodes[i].frames) - sequence_length + 1]
        if n > 0
    ]
    return np.concatenate(tables) if tables else np.zeros((0, 2), dtype=np.int64)


def gather(episodes, windows, sequence_length) -> SequenceBatch:
    """The sequences at ``windows`` ((B, 2) int64 (episode, offset) pairs).

    Returns a :class:`SequenceBatch`: frames (B, L, H, W) uint8, actions,
    rewards and episode ends (B, L - 1), ``starts`` the window offsets in
    their episodes.
    """
    frames, actions, rewards, ends = [], [], [], []
    for episode_index, offset in windows:
        episode = episodes[episode_index]
        frames.append(episode.frames[offset : offset + sequence_length])
        actions.append(episode.actions[offset : offset + sequence_length - 1])
        rewards.append(episode.rewards[offset : offset + sequence_length - 1])
        ends.append(episode.episode_ends[offset : offset + sequence_length - 1])
    return SequenceBatch(
        frames=np.stack(frames),
        actions=np.stack(actions).astype(np.int32, copy=False),
        rewards=np.stack(rewards),
        starts=np.asarray(windows, dtype=np.int64)[:, 1].copy(),
        episode_ends=np.stack(ends),
    )


class SequenceSampler:
    """Shuffled passes over every training window, resumable exactly.

    Args:
        episodes: list of :class:`recurrent_sim.data.episodes.Episode`.
        indices: the episodes to draw from (e.g. the training split).
        sequence_length: frames per sequence.
        seed: int seed of the shuffling.
    """

    def __init__(self, episodes, indices, sequence_length, seed):
        self.episodes = episodes
        self.sequence_length = int(sequence_length)
        self.windows = _window_table(episodes, indices, self.sequence_length)
        if not len(self.windows):
            raise DatasetError(f"no window of {self.sequence_length} frames in the training episodes")
        self.epoch = 0
        self.cursor = 0
        self._rng = np.random.default_rng(seed)
        self._start_epoch()

    def __len__(self) -> int:
        """Windows per pass."""
        return len(self.windows)

    def _start_epoch(self):
        self._epoch_rng_state = self._rng.bit_generator.state
        self._order = self._rng.permutation(len(self.windows))
        self.cursor = 0

    def sample(self, batch_size) -> SequenceBatch:
        """The next ``batch_size`` windows of the current pass (a pass ending
        mid-batch continues with the next, freshly shuffled pass)."""
        return gather(self.episodes, self.next_windows(batch_size), self.sequence_length)

    def next_windows(self, batch_size) -> np.ndarray:
        """What :meth:`sample` draws, as (batch_size, 2) int64 (episode, offset) pairs."""
        picked = []
        while len(picked) < batch_size:
            if self.cursor == len(self._order):
                self.epoch += 1
                self._start_epoch()
            take = min(batch_size - len(picked), len(self._order) - self.cursor)
            picked.extend(self._order[self.cursor : self.cursor + take])
            self.cursor += take
        return self.windows[np.asarray(picked)]

    def state_dict(self) -> dict:
        """Position and random state as JSON-able values."""
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "windows": len(self.windows),
            "epoch_rng_state": self._epoch_rng_state,
        }

    def load_state_dict(self, state):
        """Continue from a :meth:`state_dict` of a sampler over the same windows."""
        if int(state["windows"]) != len(self.windows):
            raise ValueError(f"sampler state is for {state['windows']} windows, this sampler has {len(self.windows)}")
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = state["epoch_rng_state"]
        self._rng = rng
        self._start_epoch()
        self.epoch = int(state["epoch"])
        self.cursor = int(state["cursor"])


def validation_batches(episodes, indices, sequence_length, max_sequences, batch_size):
    """A fixed set of validation sequences: up to ``max_sequences`` windows
    spread evenly over the episodes ``indices``, in batches of ``batch_size``.

    Returns a list of :class:`SequenceBatch` (empty when ``indices`` is).
    """
    windows = _window_table(episodes, indices, sequence_length)
    if not len(windows):
        return []
    picks = np.unique(np.linspace(0, len(windows) - 1, min(max_sequences, len(windows))).round().astype(np.int64))
    windows = windows[picks]
    return [
        gather(episodes, windows[i : i + batch_size], sequence_length) for i in range(0, len(windows), batch_size)
    ]
