"""Frame preprocessing: RGB -> gray, resize, and a frame-stacking gym wrapper.

The frames a simulator learns are gray (H, W) uint8 (the default, square:
``--frame-size 84``) or RGB (3, H, W) uint8, channels first
(``--color rgb``); ``--frame-size 210x160`` keeps Atari's own size, the
paper's frames. The agents always see gray frames of the same size.

Sizes are ``(height, width)`` throughout the package (OpenCV's ``resize``
alone takes ``(width, height)``; this module does the swap).
"""

import argparse
import collections
import logging

import cv2
import gym
import numpy as np
from gym import spaces

from recurrent_sim.models.config import COLOR_CHANNELS
from recurrent_sim.utils.settings import Setting, positive_int

FRAME_SIZE = Setting("frame_size", 84, "side of the square gray frames the simulator sees, pixels", positive_int)
COLOR = Setting("color", "gray", "colour of the recorded frames: gray (one channel) or rgb (three, as the paper's)",
                choices=tuple(COLOR_CHANNELS))
FRAME_BUFFER_LENGTH = Setting("frame_buffer_length", 4, "frames stacked in the agent's observation", positive_int)
MAX_EPISODE_STEPS = Setting("max_episode_steps", None, "cut episodes after this many steps", positive_int,
                            original_flag="--max-episode-len")

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


def frame_shape_value(text):
    """argparse type of a collection's ``--frame-size``: "84" (84x84) or "210x160" (height x width) ->
    (height, width) positive ints (the command checks that they fit the simulator)."""
    try:
        sides = tuple(int(side) for side in str(text).lower().split("x"))
    except ValueError:
        sides = ()
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2 or min(sides) < 1:
        raise argparse.ArgumentTypeError(f"expected a side in pixels (84) or HEIGHTxWIDTH (210x160), got {text!r}")
    return sides


def preprocess_color(frame, size=(84, 84)):
    """Resize one RGB frame (area interpolation) and put its channels first.

    Args:
        frame: (H, W, 3) uint8 RGB, or (H, W) uint8 gray (its level repeated in R, G and B).
        size: (height, width) of the result.

    Returns:
        (3, height, width) uint8, channels R, G, B.
    """
    height, width = _check_size(size)
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) or (H, W) uint8 frame, got shape {frame.shape} dtype {frame.dtype}")
    if frame.shape[:2] != (height, width):
        frame = cv2.resize(np.ascontiguousarray(frame), (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame.transpose(2, 0, 1))


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
    :attr:`last_frame` is the frame to record: gray (height, width), or
    (3, height, width) RGB with ``color="rgb"``.

    Args:
        env: an env whose observations are (H, W, 3) uint8 RGB or (H, W)
            uint8 gray frames.
        size: (height, width) of the preprocessed frames.
        n_frames: number of frames stacked in an observation.
        color: ``"gray"`` or ``"rgb"``, the colour of :attr:`last_frame`.
    """

    def __init__(self, env, size=(84, 84), n_frames=4, color="gray"):
        super().__init__(env)
        if color not in COLOR_CHANNELS:
            raise ValueError(f"color must be one of {', '.join(COLOR_CHANNELS)}, not {color!r}")
        self.color = color
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
    def image_shape(self):
        """Shape of :attr:`last_frame`: (height, width) gray, (3, height, width) RGB."""
        return self.size if self.color == "gray" else (3,) + self.size

    @property
    def last_frame(self):
        """The newest preprocessed frame: (height, width) uint8 gray, or (3, height, width) RGB."""
        if not self._frames:
            raise RuntimeError("no frame yet: call reset() first")
        if self.color == "rgb":
            return preprocess_color(self._raw_frame, self.size)
        return self._frames[-1].copy()

    @property
    def raw_frame(self):
        """The newest observation of the wrapped env, e.g. (210, 160, 3) uint8 RGB."""
        if self._raw_frame is None:
            raise RuntimeError("no frame yet: call reset() first")
        return self._raw_frame
