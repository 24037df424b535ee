"""Tests of graying, resizing and frame stacking."""

import gym
import numpy as np
import pytest
from gym import spaces

from recurrent_sim.envs import PreprocessedEnv, make_env, preprocess_frame, to_gray


class CountingEnv(gym.Env):
    """Frame t is a (30, 20) gray image filled with 10 * t; episodes end at t = 5."""

    observation_space = spaces.Box(0, 255, (30, 20), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, **kwargs):
        self.t = 0
        frame = self._frame()
        return (frame, {"t": 0}) if kwargs.get("return_info") else frame

    def step(self, action):
        self.t += 1
        return self._frame(), float(action), self.t == 5, {"t": self.t}

    def _frame(self):
        return np.full((30, 20), 10 * self.t, np.uint8)

    def render(self, mode="human"):
        return None


def solid(rgb, shape=(6, 4)):
    return np.broadcast_to(np.array(rgb, np.uint8), shape + (3,)).copy()


@pytest.mark.parametrize(
    "rgb, gray",
    [
        ((255, 0, 0), 76),  # 0.299 * 255
        ((0, 255, 0), 150),  # 0.587 * 255
        ((0, 0, 255), 29),  # 0.114 * 255
        ((255, 255, 255), 255),
        ((0, 0, 0), 0),
        ((100, 50, 200), 82),  # 29.9 + 29.35 + 22.8
    ],
)
def test_to_gray_luminance_weights(rgb, gray):
    result = to_gray(solid(rgb))
    assert result.shape == (6, 4) and result.dtype == np.uint8
    assert np.all(np.abs(result.astype(int) - gray) <= 1)


def test_to_gray_rejects_other_shapes_and_dtypes():
    with pytest.raises(ValueError, match="RGB"):
        to_gray(np.zeros((6, 4), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        to_gray(np.zeros((6, 4, 3), np.float32))


@pytest.mark.parametrize("size", [(84, 84), (110, 84), (42, 60)])
def test_preprocess_frame_shape_and_dtype(size):
    rgb = np.random.default_rng(0).integers(0, 256, (210, 160, 3), dtype=np.uint8)
    frame = preprocess_frame(rgb, size)
    assert frame.shape == size and frame.dtype == np.uint8
    assert preprocess_frame(to_gray(rgb), size).shape == size


def test_preprocess_frame_grays_then_averages_areas():
    # Vertical stripes of pure green and black: area averaging gives 75
    # everywhere; nearest-neighbour would give 0 or 150.
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, ::2, 1] = 255
    frame = preprocess_frame(rgb, (4, 4))
    assert np.all(np.abs(frame.astype(int) - 75) <= 1)


def test_preprocess_frame_same_size_is_gray_copy():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    frame = preprocess_frame(gray, (3, 4))
    np.testing.assert_array_equal(frame, gray)
    assert frame is not gray


@pytest.mark.parametrize("size", [(0, 84), (84,), 84, (84.0, 84), (84, -1), (True, 84)])
def test_preprocess_frame_rejects_bad_sizes(size):
    with pytest.raises(ValueError, match="size"):
        preprocess_frame(np.zeros((10, 10), np.uint8), size)


def test_stacking_order_and_reset_repetition():
    env = PreprocessedEnv(CountingEnv(), size=(15, 10), n_frames=3)
    assert env.observation_space.shape == (3, 15, 10)
    assert env.frame_shape == (15, 10)
    obs = env.reset()
    assert obs.shape == (3, 15, 10) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert [int(f[0, 0]) for f in obs] == [0, 0, 0]
    obs, reward, done, info = env.step(1)
    assert [int(f[0, 0]) for f in obs] == [0, 0, 10]
    assert (reward, done, info) == (1.0, False, {"t": 1})
    obs = env.step(0)[0]
    obs = env.step(0)[0]
    assert [int(f[0, 0]) for f in obs] == [10, 20, 30]  # newest last
    np.testing.assert_array_equal(env.last_frame, obs[-1])
    assert env.raw_frame.shape == (30, 20) and env.raw_frame[0, 0] == 30
    obs = env.reset()  # a reset forgets the previous episode
    assert [int(f[0, 0]) for f in obs] == [0, 0, 0]


def test_observations_are_independent_copies():
    env = PreprocessedEnv(CountingEnv(), size=(15, 10), n_frames=2)
    first = env.reset()
    env.last_frame[:] = 99
    first[:] = 77
    second = env.step(0)[0]
    assert [int(f[0, 0]) for f in second] == [0, 10]


def test_reset_return_info_passes_through():
    env = PreprocessedEnv(CountingEnv(), size=(15, 10), n_frames=2)
    obs, info = env.reset(return_info=True)
    assert obs.shape == (2, 15, 10) and info == {"t": 0}


@pytest.mark.parametrize("n_frames", [0, -1, 2.5, True, "4"])
def test_rejects_bad_n_frames(n_frames):
    with pytest.raises(ValueError, match="n_frames"):
        PreprocessedEnv(CountingEnv(), n_frames=n_frames)


def test_frames_before_reset_raise():
    env = PreprocessedEnv(CountingEnv())
    with pytest.raises(RuntimeError, match="reset"):
        env.last_frame
    with pytest.raises(RuntimeError, match="reset"):
        env.raw_frame


def test_on_an_atari_game():
    env = PreprocessedEnv(make_env("BreakoutNoFrameskip-v4", seed=0))
    obs = env.reset()
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    for action in (1, 2, 2, 3):
        obs = env.step(action)[0]
    assert env.raw_frame.shape == (210, 160, 3)
    np.testing.assert_array_equal(env.last_frame, preprocess_frame(env.raw_frame))
    np.testing.assert_array_equal(env.last_frame, obs[-1])
    assert env.observation_space.contains(obs)
