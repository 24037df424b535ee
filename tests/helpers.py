"""Helpers shared by the tests: synthetic episodes and datasets, small runs, the CLI in a subprocess,
BlockWorld samples and small simulators."""
import importlib.util
import json
import os
import signal
import subprocess
import sys

import numpy as np

from recurrent_sim.data import SampleBuffer
from recurrent_sim.data.episodes import Episode, EpisodeWriter
from recurrent_sim.envs import make_game
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training.run_settings import OfflineSettings, RunOptions
from recurrent_sim.training.sequence_loss import SequenceSchedule

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAME_SHAPE = (32, 32)
N_ACTIONS = 5
# Lines gym 0.22 prints on import (not ours); filtered from subprocess output.
GYM_NOTICE = ("Gym has been unmaintained", "Please upgrade to Gymnasium", "See the migration guide")
# Flags of a tiny offline run on 32x32 frames: 4-frame sequences, batch 2, 16 LSTM units.
SMALL_TRAIN_FLAGS = ["--hidden-size", "16", "--batch-size", "2", "--unroll-dep", "1", "--obs-dep", "1",
                     "--pred-dep", "1", "--validation-fraction", "0.25", "--validation-sequences", "4"]


BLOCKWORLD = "BlockWorld-v0"
FRAME_SIZE = 32


def make_episode(steps, seed=0, terminal=True, shape=FRAME_SHAPE, n_actions=N_ACTIONS) -> Episode:
    """A synthetic episode: a bright square that moves with the actions over a noisy background."""
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, n_actions, steps).astype(np.int32)
    frames = rng.integers(0, 40, (steps + 1,) + tuple(shape)).astype(np.uint8)
    position = np.array([shape[0] // 2, shape[1] // 2])
    moves = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)] * n_actions)[:n_actions]
    for t in range(steps + 1):
        frames[t, position[0] : position[0] + 4, position[1] : position[1] + 4] = 220
        if t < steps:
            position = np.clip(position + 2 * moves[actions[t]], 0, np.array(shape) - 4)
    ends = np.zeros(steps, dtype=bool)
    ends[-1:] = terminal
    return Episode(frames, actions, rng.random(steps).astype(np.float32), ends)


def write_dataset(folder, lengths, shape=FRAME_SHAPE, n_actions=N_ACTIONS, env_id="BlockWorld-v0", seed=0):
    """A dataset folder holding one synthetic episode per entry of ``lengths`` (steps)."""
    writer = EpisodeWriter(folder, env_id, shape, n_actions, {"synthetic": True})
    for i, steps in enumerate(lengths):
        writer.add(make_episode(steps, seed=seed + i, shape=shape, n_actions=n_actions), seed=seed + i, policy="test")
    return os.fspath(folder)


def small_settings(**changes) -> OfflineSettings:
    values = dict(sequence=SequenceSchedule(1, 1, 1), batch_size=2, hidden_size=16, encoding_size=32,
                  validation_fraction=0.25, validation_sequences=4, seed=0)
    values.update(changes)
    return OfflineSettings(**values)


def small_options(**changes) -> RunOptions:
    values = dict(updates=6, checkpoint_every=2, keep_checkpoints=2, validate_every=3, log_every=1)
    values.update(changes)
    return RunOptions(**values)


def python_env():
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONPATH=REPO)
    return env


def dead_pid() -> int:
    """The id of a process that has ended (what a killed writer's temporary file names)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def default_signals():
    """For ``preexec_fn``: the child starts with SIGINT and SIGTERM at their defaults and unblocked, as
    from a terminal, whatever an earlier test left in this process (an ignored signal is inherited)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])


def start_cli(*argv, **kwargs):
    """``python -m recurrent_sim ARGS`` as a subprocess (stdout and stderr piped)."""
    kwargs.setdefault("preexec_fn", default_signals)
    return subprocess.Popen([sys.executable, "-m", "recurrent_sim", *map(str, argv)], cwd=REPO, env=python_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def own_lines(text):
    """Non-empty lines of ``text`` without gym's import notice."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith(GYM_NOTICE)]


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


def small_simulator(hidden_size=16, encoding_size=32, n_actions=N_ACTIONS, frame_size=FRAME_SIZE, seed=0, heads=False):
    """A small simulator with weights drawn from ``seed`` (numpy's global state is restored);
    ``heads``: with reward, episode-end and error heads."""
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        return Simulator(
            SimulatorConfig(
                frame_shape=(frame_size, frame_size),
                n_actions=n_actions,
                hidden_size=hidden_size,
                encoding_size=encoding_size,
                heads=heads,
            )
        )
    finally:
        np.random.set_state(saved)


ORIGINAL_SCRIPT = os.path.join(REPO, "examples", "mygym", "train_a3c_gym.py")
FIXTURES = os.path.join(REPO, "tests", "fixtures")


def load_original_script():
    """examples/mygym/train_a3c_gym.py as a module (its ``main(argv)`` runs it in this process)."""
    spec = importlib.util.spec_from_file_location("train_a3c_gym", ORIGINAL_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_original_script(script, capsys, *argv):
    """Run the original script in this process; returns (exit status, stdout, stderr)."""
    status = script.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def write_format1_checkpoint(path, layout="format1_original_savesim.json", seed=0):
    """Write a checkpoint file laid out exactly as the code of checkpoint format 1 wrote it.

    ``layout`` names a JSON file of tests/fixtures recorded from a real
    format-1 file (``recurrent-sim train`` or the original script's
    ``--savesim`` on BlockWorld): the names, shapes and dtypes of its arrays,
    its ``config`` and ``metadata`` strings. Weights are drawn from ``seed``
    (small, so that the network is stable); the mean image is mid-gray.
    """
    with open(os.path.join(FIXTURES, layout)) as f:
        recorded = json.load(f)
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, (shape, dtype) in recorded["arrays"].items():
        if name.endswith("mean_image"):
            arrays[name] = np.full(shape, 0.4, dtype=dtype)
        elif np.dtype(dtype) == np.bool_:
            arrays[name] = np.ones(shape, dtype=dtype)
        elif np.dtype(dtype).kind in "iu":
            arrays[name] = np.full(shape, 5, dtype=dtype)
        elif name.startswith("optimizer/") and name.endswith("/v"):
            arrays[name] = np.abs(rng.normal(0, 1e-6, shape)).astype(dtype)
        else:
            arrays[name] = rng.normal(0, 0.02, shape).astype(dtype)
    arrays["format_version"] = np.array(recorded["format_version"])
    arrays["config"] = np.array(recorded["config"])
    arrays["metadata"] = np.array(recorded["metadata"])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def evaluate_on_blockworld(cli, run, out, architecture, sequences, warmup, horizon):
    """``recurrent-sim evaluate`` of the simulator in ``run`` on BlockWorld; checks that it
    ran, rebuilt ``architecture`` and gave a finite error; returns summary.json as a dict."""
    code, _, err = cli("evaluate", "--loadtosim", run, "--env", BLOCKWORLD, "--sequences", sequences,
                       "--warmup", warmup, "--horizon", horizon, "--batch-size", sequences, "--out", out)
    assert code == 0, err
    summary = json.loads(open(os.path.join(out, "summary.json")).read())
    assert summary["checkpoint"]["config"]["architecture"] == architecture
    assert np.isfinite(summary["mean_over_horizon"]["model_mse"])
    return summary
