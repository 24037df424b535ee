"""Shared fixtures: a tiny game (BlockWorld, 32x32 frames) and a tiny simulator."""
import numpy as np
import pytest

from recurrent_sim.envs import PreprocessedEnv, make_env
from recurrent_sim.envs.synthetic import register_synthetic_envs
from recurrent_sim.models import Simulator, SimulatorConfig

FRAME = 32


@pytest.fixture
def game():
    """BlockWorld-v0 as the agent sees it: (4, 32, 32) uint8 observations, 5 actions."""
    register_synthetic_envs()
    env = PreprocessedEnv(make_env("BlockWorld-v0", seed=0), size=(FRAME, FRAME), n_frames=4)
    yield env
    env.close()


@pytest.fixture
def tiny_simulator():
    """An untrained 32x32 simulator with 8 LSTM units and a mean image of mid-gray."""
    sim = Simulator(SimulatorConfig(frame_shape=(FRAME, FRAME), n_actions=5, hidden_size=8, encoding_size=16))
    sim.set_mean_image(np.full((2, FRAME, FRAME), 100, dtype=np.uint8))
    return sim
