"""One episode of play as arrays, and its file (a compressed ``.npz``).

The arrays and their shapes are described in :mod:`recurrent_sim.data.episodes`,
which keeps episodes in dataset folders.
"""
import dataclasses
import json
import os

import numpy as np

from recurrent_sim.models.config import image_shape, split_image_shape
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import READ_ERRORS, atomic_write
from recurrent_sim.utils.finite import require_finite

MANIFEST = "manifest.json"
EPISODE_PREFIX = "episode_"


class DatasetError(UserError):
    """A dataset folder or file is missing, unreadable or inconsistent."""


def episode_filename(index: int) -> str:
    """``episode_000012.npz`` for episode 12."""
    return f"{EPISODE_PREFIX}{int(index):06d}.npz"


@dataclasses.dataclass
class Episode:
    """One stretch of play from a reset, ``T`` steps.

    Attributes:
        frames: (T + 1, H, W) uint8 gray frames, or (T + 1, 3, H, W) RGB.
        actions: (T,) int32; ``actions[t]`` was taken on ``frames[t]``.
        rewards: (T,) float32.
        episode_ends: (T,) bool; true where the transition ended the episode.
    """

    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    episode_ends: np.ndarray

    def __post_init__(self):
        self.frames = np.asarray(self.frames)
        self.actions = np.asarray(self.actions)
        self.rewards = np.asarray(self.rewards)
        self.episode_ends = np.asarray(self.episode_ends)
        problem = self._problem()
        if problem:
            raise ValueError(f"invalid episode: {problem}")

    def _problem(self) -> str:
        frames_ndim = 4 if self.frames.ndim == 4 and self.frames.shape[1] == 3 else 3  # RGB, else gray
        expected = (("frames", np.uint8, frames_ndim), ("actions", np.int32, 1),
                    ("rewards", np.float32, 1), ("episode_ends", np.bool_, 1))
        for name, dtype, ndim in expected:
            array = getattr(self, name)
            if array.dtype != dtype or array.ndim != ndim:
                return f"{name} must be {ndim}-D {np.dtype(dtype).name}, got {array.ndim}-D {array.dtype}"
        steps = len(self.actions)
        if len(self.frames) != steps + 1:
            return f"{len(self.frames)} frames for {steps} actions (expected {steps + 1})"
        if len(self.rewards) != steps or len(self.episode_ends) != steps:
            return f"{steps} actions, {len(self.rewards)} rewards, {len(self.episode_ends)} episode ends"
        if steps and self.episode_ends[:-1].any():
            return "an episode end before the last step"
        if min(self.frames.shape[1:]) < 1:
            return f"empty frames {self.frames.shape[1:]}"
        return ""

    @property
    def steps(self) -> int:
        """Number of transitions T."""
        return len(self.actions)

    @property
    def frame_shape(self):
        return tuple(self.frames.shape[1:])

    @property
    def terminal(self) -> bool:
        """True when the last transition ended the episode."""
        return bool(self.steps and self.episode_ends[-1])


def save_episode(path, episode: Episode):
    """Write ``episode`` to ``path`` atomically as a compressed ``.npz`` (NonFiniteError, nothing
    written, when a reward is NaN or infinite)."""
    arrays = {f.name: getattr(episode, f.name) for f in dataclasses.fields(Episode)}
    require_finite({"rewards": episode.rewards}, f"episode {path}", "the game gave a reward that is not a number")
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def load_episode(path) -> Episode:
    """Read an episode file; never executes pickled data.

    Raises:
        DatasetError: missing, truncated, corrupted or not an episode, or a reward is NaN or infinite.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetError(f"episode file {path} is missing or not a file")
    names = [f.name for f in dataclasses.fields(Episode)]
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in names}
        episode = Episode(**arrays)
    except READ_ERRORS as e:
        raise DatasetError(
            f"cannot read episode file {path}: truncated, corrupted or not an episode "
            f"({type(e).__name__}: {e}); delete it and its line in {MANIFEST}, or collect again"
        ) from None
    bad = np.flatnonzero(~np.isfinite(episode.rewards))
    if len(bad):
        raise DatasetError(f"episode file {path} holds {len(bad)} NaN or infinite reward(s) (first at step {bad[0]}); "
                           f"it is damaged: delete it and its line in {MANIFEST}, or collect again")
    return episode


def _count(values, key, minimum=0) -> int:
    """``values[key]`` if an integer >= ``minimum`` (not a boolean, nor a float such as 1e400), else ValueError."""
    value = values[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{key} is {json.dumps(value)[:40]}, not an integer >= {minimum}")
    return value


def _frame_shape(sides) -> list:
    """A manifest's ``frame_shape``, [H, W] gray or [3, H, W] RGB, checked (ValueError otherwise)."""
    names = ("channels", "height", "width")[-len(sides):] if len(sides) in (2, 3) else ("side",) * len(sides)
    return list(image_shape(*split_image_shape([_count({name: s}, name, 1) for name, s in zip(names, sides)])))
