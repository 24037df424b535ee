"""Ring buffer of game transitions from which the simulator trainer samples sequences.

Every step of the real game stores one transition: the observed frame, the
action taken on it, the reward of that action and whether the action ended
the episode. Storage is preallocated once (no per-sample copies, no Python
lists), so the memory is exactly ``capacity * (H * W + 4 + 4 + 1)`` bytes:

===============  ======================  ========
array            shape                   dtype
===============  ======================  ========
frames           (capacity, H, W)        uint8
actions          (capacity,)             int32
rewards          (capacity,)             float32
episode_ends     (capacity,)             bool
===============  ======================  ========

Positions are *logical*: 0 is the oldest transition still stored, ``len - 1``
the newest. A sequence of ``seq_len`` frames starting at logical position
``i`` is valid iff positions ``i .. i + seq_len - 1`` are all filled (so it
never reads empty slots nor straddles the ring's write position) and none of
the transitions ``i .. i + seq_len - 2`` ended an episode (an episode end on
the last frame is fine: its action is not part of the sequence). This is the
fix of the original code's defect #2 (sequences crossing resets, empty slots and the write
position).
"""
from __future__ import annotations

import logging
import operator
from typing import NamedTuple, Optional

import numpy as np

from recurrent_sim.utils.random_state import decode_generator, encode_generator

logger = logging.getLogger(__name__)

__all__ = ["SampleBuffer", "SequenceBatch"]


class SequenceBatch(NamedTuple):
    """A batch of consecutive transitions sampled from a :class:`SampleBuffer`.

    Attributes:
        frames: ``(batch, seq_len, H, W)`` uint8.
        actions: ``(batch, seq_len - 1)`` int32; ``actions[b, t]`` was taken on
            ``frames[b, t]`` and led to ``frames[b, t + 1]``.
        rewards: ``(batch, seq_len - 1)`` float32, the reward of that transition.
        starts: ``(batch,)`` int64 logical start positions (0 = oldest stored).
        episode_ends: ``(batch, seq_len - 1)`` bool, true where the transition
            ended the episode (what the episode-end head learns). Sequences
            of the ring buffer never hold one (the frame an episode ends on
            is not stored), those of recorded episodes may on their last step.
    """

    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    starts: np.ndarray
    episode_ends: Optional[np.ndarray] = None


class SampleBuffer:
    """Fixed-capacity ring buffer of transitions, sampled as sequences.

    Args:
        capacity: number of transitions kept (the oldest are overwritten).
        frame_shape: ``(H, W)`` of the uint8 gray frames, ``(3, H, W)`` of RGB ones.
        seed: ``None``, an int seed or a ``np.random.Generator`` used by
            :meth:`sample`.

    Arrays (preallocated): frames ``(capacity,) + frame_shape`` uint8, actions
    ``(capacity,)`` int32, rewards ``(capacity,)`` float32, episode_ends
    ``(capacity,)`` bool.
    """

    _ARRAY_KEYS = ("frames", "actions", "rewards", "episode_ends")

    def __init__(self, capacity: int, frame_shape: tuple[int, ...], seed=None):
        if isinstance(capacity, bool):
            raise TypeError("capacity must be an int, got bool")
        try:
            capacity = operator.index(capacity)
        except TypeError:
            raise TypeError(f"capacity must be an int, got {capacity!r}") from None
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        try:
            shape = tuple(operator.index(s) for s in frame_shape)
        except TypeError:
            raise ValueError(f"frame_shape must be (H, W) ints, got {frame_shape!r}") from None
        rgb = len(shape) == 3 and shape[0] == 3
        if not (len(shape) == 2 or rgb) or min(shape) <= 0 or any(isinstance(s, bool) for s in frame_shape):
            raise ValueError(f"frame_shape must be (H, W) or (3, H, W) with sizes > 0, got {frame_shape!r}")
        self._capacity = capacity
        self._frame_shape = shape
        self._frames = np.zeros((capacity,) + shape, dtype=np.uint8)
        self._actions = np.zeros(capacity, dtype=np.int32)
        self._rewards = np.zeros(capacity, dtype=np.float32)
        self._episode_ends = np.zeros(capacity, dtype=bool)
        self._pos = 0  # next physical slot to write
        self._size = 0  # filled slots
        self._total = 0  # appends ever
        self._rng = np.random.default_rng(seed)
        logger.debug("SampleBuffer: capacity %d, frames %s, %.1f MiB",
                     capacity, shape, self.nbytes / 2**20)

    # ------------------------------------------------------------------ info
    capacity = property(lambda self: self._capacity, doc="Transitions kept (the oldest are overwritten).")
    frame_shape = property(lambda self: self._frame_shape, doc="``(H, W)`` or ``(3, H, W)`` of the stored frames.")

    @property
    def total_appended(self) -> int:
        """Number of transitions appended since creation (including overwritten ones)."""
        return self._total

    @property
    def nbytes(self) -> int:
        """Bytes held by the storage arrays: ``capacity * (H * W + 9)``."""
        return sum(getattr(self, "_" + k).nbytes for k in self._ARRAY_KEYS)

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return (f"SampleBuffer(capacity={self._capacity}, frame_shape={self._frame_shape}, "
                f"len={self._size}, total_appended={self._total})")

    # ----------------------------------------------------------------- write
    def append(self, frame, action, reward, episode_end) -> None:
        """Store one transition.

        Args:
            frame: ``(H, W)`` uint8 observation on which ``action`` was taken.
            action: integer action.
            reward: reward of the transition.
            episode_end: True when this transition ended the episode (the next
                appended frame starts a new episode).
        """
        frame = np.asarray(frame)
        if frame.shape != self._frame_shape:
            raise ValueError(
                f"frame shape {frame.shape} != buffer frame_shape {self._frame_shape}")
        if frame.dtype != np.uint8:
            raise TypeError(f"frame dtype must be uint8, got {frame.dtype}")
        if isinstance(action, (bool, np.bool_)):
            raise TypeError("action must be an integer, got bool")
        try:
            action = operator.index(action)
        except TypeError:
            action = np.asarray(action)
            if action.shape != () or action.dtype.kind not in "iu":
                raise TypeError(f"action must be an integer, got {action!r}") from None
            action = int(action)
        if not np.iinfo(np.int32).min <= action <= np.iinfo(np.int32).max:
            raise ValueError(f"action {action} does not fit int32")
        p = self._pos
        self._frames[p] = frame
        self._actions[p] = action
        self._rewards[p] = reward
        self._episode_ends[p] = bool(episode_end)
        self._pos = (p + 1) % self._capacity
        self._size = min(self._size + 1, self._capacity)
        self._total += 1

    # ------------------------------------------------------------------ read
    def _oldest(self) -> int:
        """Physical slot of logical position 0."""
        return (self._pos - self._size) % self._capacity

    def _logical_view(self, arr: np.ndarray) -> np.ndarray:
        """The filled part of ``arr`` in logical order (a view when not wrapped)."""
        o = self._oldest()
        if o + self._size <= self._capacity:
            return arr[o:o + self._size]
        return np.concatenate((arr[o:], arr[:o + self._size - self._capacity]))

    def _physical(self, logical: np.ndarray) -> np.ndarray:
        return (self._oldest() + logical) % self._capacity

    @staticmethod
    def _check_seq_len(seq_len) -> int:
        if isinstance(seq_len, bool):
            raise TypeError("seq_len must be an int, got bool")
        seq_len = operator.index(seq_len)
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        return seq_len

    def valid_starts(self, seq_len: int) -> np.ndarray:
        """Sorted int64 logical start positions of all valid sequences."""
        seq_len = self._check_seq_len(seq_len)
        n = self._size - seq_len + 1  # starts whose frames are all filled
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        if seq_len == 1:
            return np.arange(n, dtype=np.int64)
        # Episode ends in logical order, only the positions whose action can be
        # used (the last stored transition can never be inside a sequence).
        ends = self._logical_view(self._episode_ends)[:self._size - 1]
        csum = np.zeros(self._size, dtype=np.int64)
        np.cumsum(ends, out=csum[1:])
        # ends among logical positions i .. i + seq_len - 2
        inside = csum[seq_len - 1:seq_len - 1 + n] - csum[:n]
        return np.flatnonzero(inside == 0).astype(np.int64, copy=False)

    def num_valid_starts(self, seq_len: int) -> int:
        """Number of logical positions at which a valid sequence of ``seq_len`` frames starts."""
        return int(self.valid_starts(seq_len).size)

    def can_sample(self, seq_len: int) -> bool:
        return self.num_valid_starts(seq_len) > 0

    def sample(self, batch_size: int, seq_len: int) -> SequenceBatch:
        """Sample ``batch_size`` sequences uniformly over valid starts, with replacement."""
        batch_size = operator.index(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        seq_len = self._check_seq_len(seq_len)
        valid = self.valid_starts(seq_len)
        if valid.size == 0:
            raise ValueError(
                f"no valid sequence of {seq_len} frames in the buffer ({self._size} of "
                f"{self._capacity} slots filled, episodes must span {seq_len} consecutive "
                "frames without an episode end); append more transitions or use a "
                "shorter seq_len")
        return self.sequences_at(valid[self._rng.integers(0, valid.size, size=batch_size)], seq_len)

    def sequences_at(self, starts, seq_len: int) -> SequenceBatch:
        """The sequences of ``seq_len`` frames at logical ``starts`` ((batch,) int64, valid starts)."""
        starts = np.asarray(starts, dtype=np.int64)
        phys = self._physical(starts[:, None] + np.arange(self._check_seq_len(seq_len)))
        return SequenceBatch(
            frames=self._frames[phys],
            actions=self._actions[phys[:, :-1]],
            rewards=self._rewards[phys[:, :-1]],
            starts=starts,
            episode_ends=self._episode_ends[phys[:, :-1]],
        )

    def first_frames(self, n: int) -> np.ndarray:
        """The ``min(n, len)`` oldest stored frames, ``(k, H, W)`` uint8, chronological."""
        n = operator.index(n)
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        k = min(n, self._size)
        return self._frames[self._physical(np.arange(k))]

    # ---------------------------------------------------------------- resume
    def state_dict(self, copy: bool = True) -> dict:
        """Everything needed for an exact resume, as numpy arrays (no objects, no pickle).

        With ``copy=False`` the storage arrays are returned as views (no extra
        memory; save them before the next :meth:`append`).
        """
        d = {k: getattr(self, "_" + k) for k in self._ARRAY_KEYS}
        if copy:
            d = {k: v.copy() for k, v in d.items()}
        d.update(
            capacity=np.asarray(self._capacity, dtype=np.int64),
            frame_shape=np.asarray(self._frame_shape, dtype=np.int64),
            pos=np.asarray(self._pos, dtype=np.int64),
            size=np.asarray(self._size, dtype=np.int64),
            total_appended=np.asarray(self._total, dtype=np.int64),
            rng_state=encode_generator(self._rng),
        )
        return d

    def load_state_dict(self, d) -> None:
        """Restore from :meth:`state_dict` (also accepts an ``np.load`` of a saved ``.npz``)."""
        capacity = int(d["capacity"])
        shape = tuple(int(s) for s in np.asarray(d["frame_shape"]).ravel())
        if capacity != self._capacity or shape != self._frame_shape:
            raise ValueError(
                f"buffer state has capacity {capacity} and frame_shape {shape}, this buffer "
                f"has capacity {self._capacity} and frame_shape {self._frame_shape}")
        pos, size, total = int(d["pos"]), int(d["size"]), int(d["total_appended"])
        if not (0 <= pos < capacity and 0 <= size <= capacity and size <= total
                and (size == capacity or pos == size)):
            raise ValueError(f"inconsistent buffer state: pos={pos} size={size} "
                             f"total_appended={total} capacity={capacity}")
        arrays = {}
        for k in self._ARRAY_KEYS:
            src = np.asarray(d[k])
            dst = getattr(self, "_" + k)
            if src.shape != dst.shape or src.dtype != dst.dtype:
                raise ValueError(f"buffer state {k!r}: {src.shape} {src.dtype}, "
                                 f"expected {dst.shape} {dst.dtype}")
            arrays[k] = src
        rng = decode_generator(d["rng_state"])
        for k, src in arrays.items():
            np.copyto(getattr(self, "_" + k), src)
        self._pos, self._size, self._total = pos, size, total
        self._rng = rng
