"""Frame preprocessing: RGB -> gray, resize, and a frame-stacking gym wrapper.

Sizes are ``(height, width)`` throughout the package (OpenCV's ``resize``
alone takes ``(width, height)``; this module does the swap).
"""

import collections
import logging

import cv2
import gym
import numpy as np
from gym import spaces

from recurrent_sim.utils.settings import Setting, positive_int

FRAME_SIZE = Setting("frame_size", 84, "side of the square gray frames the simulator sees, pixels", positive_int)
FRAME_BUFFER_LENGTH = Setting("frame_buffer_length", 4, "frames stacked in the agent's observation", positive_int)

logger = logging.getLogger(__name__)


def _check_size(size):
    """Return ``size`` as two positive ints (height, width); else ValueError."""
    try:
        height, width = size
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), not {size!r}") from None
    if not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0
        for n in (height, width)
    ):
        raise ValueError(
            f"size must be two positive ints (height, width), not {size!r}"
        )
    return int(height), int(width)


def to_gray(rgb):
    """Luminance of an RGB frame: 0.299 R + 0.587 G + 0.114 B.

    Args:
        rgb: (H, W, 3) uint8, channels in R, G, B order.

    Returns:
        (H, W) uint8.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise TypeError(f"expected a uint8 frame, got {rgb.dtype}")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def preprocess_frame(frame, size=(84, 84)):
    """Gray and resize one frame (area interpolation).

    Args:
        frame: (H, W, 3) uint8 RGB or (H, W) uint8 gray.
        size: (height, width) of the result.

    Returns:
        (height, width) uint8.
    """
    height, width = _check_size(size)
    frame = np.asarray(frame)
    gray = to_gray(frame) if frame.ndim == 3 else frame
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(
            f"expected an (H, W, 3) or (H, W) uint8 frame, "
            f"got shape {frame.shape} dtype {frame.dtype}"
        )
    if gray.shape == (height, width):
        return np.array(gray)
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA)


class PreprocessedEnv(gym.Wrapper):
    """Gray, resized frames, the last ``n_frames`` of them stacked.

    Observations are (n_frames, height, width) uint8, oldest frame first
    and newest last; after ``reset`` the first frame fills every slot.

    Args:
        env: an env whose observations are (H, W, 3) uint8 RGB or (H, W)
            uint8 gray frames.
        size: (height, width) of the preprocessed frames.
        n_frames: number of frames stacked in an observation.
    """

    def __init__(self, env, size=(84, 84), n_frames=4):
        super().__init__(env)
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)):
            raise ValueError(f"n_frames must be a positive int, not {n_frames!r}")
        if n_frames <= 0:
            raise ValueError(f"n_frames must be a positive int, not {n_frames!r}")
        self.size = _check_size(size)
        self.n_frames = int(n_frames)
        self.observation_space = spaces.Box(
            0, 255, (self.n_frames,) + self.size, np.uint8
        )
        self._frames = collections.deque(maxlen=self.n_frames)
        self._raw_frame = None

    def reset(self, **kwargs):
        """Reset the env; returns the stacked first frame (and info if asked)."""
        result = self.env.reset(**kwargs)
        raw_frame, info = result if kwargs.get("return_info") else (result, None)
        self._push(raw_frame)
        for _ in range(self.n_frames - 1):
            self._frames.append(self._frames[-1])
        obs = self._observation()
        return (obs, info) if kwargs.get("return_info") else obs

    def step(self, action):
        """Step the env; returns (stacked frames, reward, done, info)."""
        raw_frame, reward, done, info = self.env.step(action)
        self._push(raw_frame)
        return self._observation(), reward, done, info

    def _push(self, raw_frame):
        self._raw_frame = raw_frame
        self._frames.append(preprocess_frame(raw_frame, self.size))

    def _observation(self):
        return np.stack(self._frames)

    @property
    def frame_shape(self):
        """(height, width) of one preprocessed frame."""
        return self.size

    @property
    def last_frame(self):
        """The newest preprocessed frame, (height, width) uint8."""
        if not self._frames:
            raise RuntimeError("no frame yet: call reset() first")
        return self._frames[-1].copy()

    @property
    def raw_frame(self):
        """The newest observation of the wrapped env, e.g. (210, 160, 3) uint8 RGB."""
        if self._raw_frame is None:
            raise RuntimeError("no frame yet: call reset() first")
        return self._raw_frame
