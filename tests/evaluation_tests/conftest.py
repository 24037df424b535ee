"""Shared fixtures: BlockWorld samples, saved simulators, and a CLI runner."""
import numpy as np
import pytest

from recurrent_sim.cli import main
from recurrent_sim.commands.common import make_game
from recurrent_sim.data import SampleBuffer
from recurrent_sim.envs.synthetic import register_synthetic_envs
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import save_checkpoint

BLOCKWORLD = "BlockWorld-v0"
FRAME_SIZE = 32
N_ACTIONS = 5

register_synthetic_envs()


def collect_buffer(n_episodes, seed=0, frame_size=FRAME_SIZE, env_id=BLOCKWORLD):
    """A SampleBuffer with ``n_episodes`` episodes played by a uniform random policy."""
    game = make_game(env_id, seed=seed, frame_size=frame_size)
    rng = np.random.default_rng(seed)
    buffer = SampleBuffer(n_episodes * 110, (frame_size, frame_size), seed=seed)
    for _ in range(n_episodes):
        game.reset()
        done = False
        while not done:
            action = int(rng.integers(game.action_space.n))
            frame = game.last_frame
            _, reward, done, _ = game.step(action)
            buffer.append(frame, action, reward, done)
    return buffer


def tiny_simulator(hidden_size=16, encoding_size=32, n_actions=N_ACTIONS, frame_size=FRAME_SIZE, seed=0):
    """A small simulator with weights drawn from ``seed`` (numpy's global state is restored)."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        return Simulator(
            SimulatorConfig(
                frame_shape=(frame_size, frame_size),
                n_actions=n_actions,
                hidden_size=hidden_size,
                encoding_size=encoding_size,
            )
        )
    finally:
        np.random.set_state(saved)


@pytest.fixture(scope="session")
def blockworld_buffer():
    return collect_buffer(6, seed=0)


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory, blockworld_buffer):
    """Folder of an untrained BlockWorld simulator (mean image of real frames set)."""
    simulator = tiny_simulator()
    simulator.set_mean_image(blockworld_buffer.first_frames(600))
    folder = tmp_path_factory.mktemp("untrained") / "sim"
    save_checkpoint(folder, simulator, metadata={"env_id": BLOCKWORLD, "frame_size": FRAME_SIZE})
    return folder


@pytest.fixture
def run_cli(capsys):
    """Run ``recurrent-sim ARGS...`` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv):
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
