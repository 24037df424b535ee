"""A new architecture and a new loss are one module and one registry entry each.

This file is that module: it defines a tiny simulator and a loss, registers
them, and takes them through ``recurrent-sim train`` (and ``--resume``),
``recurrent-sim evaluate`` and the original script's ``--loadtosim --demo``.
"""
import csv
import re

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

from recurrent_sim.models import SimulatorBase, register_architecture
from recurrent_sim.training import load_checkpoint, register_loss
from tests.helpers import BLOCKWORLD, evaluate_on_blockworld, load_original_script, run_original_script


class PooledSimulator(SimulatorBase):
    """Average-pooled frame -> linear code -> one tanh recurrent layer with an action embedding -> linear frame."""

    POOL = 4

    def __init__(self, config):
        super().__init__(config)
        height, width = config.frame_shape
        pixels = (height // self.POOL) * (width // self.POOL)
        with self.init_scope():
            self.encoder = L.Linear(pixels, config.encoding_size)
            self.code_in = L.Linear(config.encoding_size, config.hidden_size)
            self.recurrent = L.Linear(config.hidden_size, config.hidden_size, nobias=True)
            self.action_in = L.EmbedID(config.n_actions, config.hidden_size)
            self.decoder = L.Linear(config.hidden_size, height * width)

    def initial_state(self, batch_size):
        return (self.xp.zeros((batch_size, self.config.hidden_size), dtype=np.float32),)

    def encode(self, frames):
        return F.relu(self.encoder(F.average_pooling_2d(frames, self.POOL)))

    def transition(self, encoding, actions, state):
        actions = self.xp.asarray(actions, dtype=np.int32)
        hidden = F.tanh(self.code_in(encoding) + self.recurrent(state[0]) + self.action_in(actions))
        return hidden, (hidden,)

    def decode(self, hidden):
        return F.reshape(self.decoder(hidden), (hidden.shape[0], 1) + self.config.frame_shape)


def make_one_step_l1(schedule):
    """Mean absolute error of one-step predictions from real frames over the whole sequence."""

    def loss_function(simulator, batch):
        frames = simulator.normalize(batch.frames)[:, :, None]  # (B, L, 1, H, W)
        actions = simulator.xp.asarray(batch.actions)
        state = simulator.initial_state(len(frames))
        absolute, squared = 0, 0.0
        steps = frames.shape[1] - 1
        for t in range(steps):
            prediction, state = simulator.predict(frames[:, t], actions[:, t], state)
            absolute = absolute + F.mean(F.absolute_error(prediction, frames[:, t + 1]))
            squared += float(F.mean_squared_error(prediction, frames[:, t + 1]).array)
        loss = absolute / steps
        return loss, {"mae": float(loss.array), "mse": squared / steps}

    return loss_function


register_architecture("pooled_test", PooledSimulator)
register_loss("one_step_l1_test", make_one_step_l1, metric_names=("mae", "mse"))

TRAIN_FLAGS = ["--architecture", "pooled_test", "--loss", "one_step_l1_test", "--hidden-size", "8",
               "--batch-size", "2", "--unroll-dep", "1", "--obs-dep", "1", "--pred-dep", "1",
               "--validation-fraction", "0.25", "--validation-sequences", "4", "--checkpoint-every", "2"]


def test_a_registered_architecture_and_loss_train_evaluate_and_play(tmp_path, dataset, cli, capsys):
    run = tmp_path / "run"
    code, out, err = cli("train", dataset, "--out", run, "--updates", 4, *TRAIN_FLAGS)
    assert code == 0, err
    with open(run / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["update", "sequences_seen", "train_mae", "train_mse", "validation_mae",
                             "validation_mse", "skipped_batches", "frames_per_second", "elapsed_seconds"]
    assert all(np.isfinite(float(row["train_mae"])) for row in rows if row["train_mae"])
    checkpoint = load_checkpoint(run)
    assert checkpoint.config.architecture == "pooled_test"
    assert checkpoint.metadata["settings"]["loss"] == "one_step_l1_test"
    simulator = checkpoint.build_simulator()
    assert type(simulator) is PooledSimulator and simulator.has_mean_image

    code, out, err = cli("train", "--out", run, "--resume", "--updates", 6)
    assert code == 0 and "trained to update 6" in out, err
    assert load_checkpoint(run / "checkpoints" / "checkpoint_00000006.npz").config.architecture == "pooled_test"

    evaluate_on_blockworld(cli, run, tmp_path / "evaluation", "pooled_test", sequences=2, warmup=2, horizon=4)

    status, out, err = run_original_script(
        load_original_script(), capsys, "1", "--env", BLOCKWORLD, "--loadtosim", run, "--demo",
        "--eval-n-runs", "1", "--outdir", tmp_path / "out", "--logger-level", "30", "--saliency-interval", "0")
    assert status == 0, err
    assert re.search(r"^n_runs: 1 mean: ", out, re.M)


def test_an_unregistered_architecture_or_loss_is_one_line(tmp_path, dataset, cli):
    code, out, err = cli("train", dataset, "--out", tmp_path / "run", "--architecture", "nowhere")
    assert code == 2 and err.count("\n") == 1
    assert "architecture 'nowhere' is not registered; choose from" in err and "pooled_test" in err
    code, out, err = cli("train", dataset, "--out", tmp_path / "run", "--loss", "nowhere")
    assert code == 2 and "loss 'nowhere' is not registered" in err


def test_the_new_architecture_learns_its_own_gradients():
    """The architecture is a real network: the loss's gradient reaches every parameter."""
    from recurrent_sim.data import SequenceBatch
    from recurrent_sim.models import SimulatorConfig, build_simulator
    from recurrent_sim.training import SequenceSchedule

    simulator = build_simulator(SimulatorConfig((32, 32), 5, 8, encoding_size=16, architecture="pooled_test"))
    simulator.set_mean_image(np.full((1, 32, 32), 50, dtype=np.uint8))
    rng = np.random.default_rng(0)
    batch = SequenceBatch(rng.integers(0, 255, (2, 4, 32, 32)).astype(np.uint8),
                          rng.integers(0, 5, (2, 3)).astype(np.int32), None, None)
    loss, metrics = make_one_step_l1(SequenceSchedule(1, 1, 1))(simulator, batch)
    simulator.cleargrads()
    loss.backward()
    assert set(metrics) == {"mae", "mse"} and metrics["mae"] == float(loss.array)
    assert all(param.grad is not None and np.abs(param.grad).sum() > 0 for param in simulator.params())
    assert isinstance(loss, chainer.Variable)
