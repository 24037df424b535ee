"""Fixtures shared by the tests (plain helpers are in tests/helpers.py)."""
import signal

import numpy as np
import pytest

from recurrent_sim.cli import main
from recurrent_sim.envs import PreprocessedEnv, make_env
from recurrent_sim.envs.synthetic import register_synthetic_envs
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import save_checkpoint
from tests.helpers import BLOCKWORLD, FRAME_SIZE, collect_buffer, small_simulator, write_dataset

register_synthetic_envs()


@pytest.fixture(autouse=True)
def signals_as_they_were():
    """Each test ends with SIGINT's and SIGTERM's handlers and the blocked signals as it found them, so
    that no test changes how a later one (or the processes it starts) reacts to Ctrl-C."""
    handled = (signal.SIGINT, signal.SIGTERM)
    handlers = {signum: signal.getsignal(signum) for signum in handled}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@pytest.fixture
def game():
    """BlockWorld-v0 as the agent sees it: (4, 32, 32) uint8 observations, 5 actions."""
    env = PreprocessedEnv(make_env(BLOCKWORLD, seed=0), size=(FRAME_SIZE, FRAME_SIZE), n_frames=4)
    yield env
    env.close()


@pytest.fixture
def tiny_simulator():
    """An untrained 32x32 simulator with 8 LSTM units and a mean image of mid-gray."""
    config = SimulatorConfig(frame_shape=(FRAME_SIZE, FRAME_SIZE), n_actions=5, hidden_size=8, encoding_size=16)
    sim = Simulator(config)
    sim.set_mean_image(np.full((2, FRAME_SIZE, FRAME_SIZE), 100, dtype=np.uint8))
    return sim


@pytest.fixture
def dataset(tmp_path):
    """Four synthetic episodes of 20 steps, 32x32 frames, 5 actions."""
    return write_dataset(tmp_path / "data", [20, 20, 20, 20])


@pytest.fixture
def cli(capsys):
    """Run ``recurrent-sim ARGS`` in this process; returns (exit code, stdout, stderr)."""

    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="session")
def blockworld_buffer():
    return collect_buffer(6, seed=0)


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory, blockworld_buffer):
    """Folder of an untrained BlockWorld simulator (mean image of real frames set)."""
    simulator = small_simulator()
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
