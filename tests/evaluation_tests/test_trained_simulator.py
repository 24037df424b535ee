"""A simulator trained on BlockWorld is measured better than both baselines.

Training on the CPU takes a few minutes, hence a slow test; the fast parts
of the pipeline are covered by the other tests of this folder on an
untrained simulator.
"""
import csv
import json

import pytest

from recurrent_sim.training import (
    SequenceSchedule,
    SimulatorTrainer,
    TrainingSchedule,
    make_optimizer,
)

from tests.helpers import BLOCKWORLD, FRAME_SIZE, collect_buffer, small_simulator

SEQUENCE = SequenceSchedule(unroll_dep=3, obs_dep=3, pred_dep=3)
BATCH_SIZE = 4


def train(folder, updates, seed=0):
    """Train a 64-unit simulator for ``updates`` updates on random-policy BlockWorld
    play and save it to ``folder`` as the training command does."""
    buffer = collect_buffer(60, seed=seed)
    simulator = small_simulator(hidden_size=64, encoding_size=256, seed=seed)
    trainer = SimulatorTrainer(
        simulator,
        make_optimizer(simulator, "adam", lr=1e-3),
        buffer,
        sequence=SEQUENCE,
        schedule=TrainingSchedule(batch_size=BATCH_SIZE, warm_up_steps=0),
        savesim=str(folder),
        metadata={"env_id": BLOCKWORLD, "frame_size": FRAME_SIZE},
        log_interval=0,
    )
    for _ in range(updates):
        trainer.update()
    assert trainer.save_if_best(force=True)
    return folder


def evaluate(run_cli, checkpoint, out, horizon):
    code, _, err = run_cli(
        "evaluate", "--loadtosim", checkpoint, "--env", BLOCKWORLD, "--out", out, "--warmup", 4,
        "--horizon", horizon, "--sequences", 20, "--seed", 3,
    )
    assert code == 0, err
    with open(out / "metrics.csv", newline="") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return rows, json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_trained_simulator_beats_both_baselines(run_cli, tmp_path):
    checkpoint = train(tmp_path / "sim", updates=1000)
    rows, summary = evaluate(run_cli, checkpoint, tmp_path / "out", horizon=10)
    for row in rows:
        assert row["model_mse"] < row["repeat_last_mse"], row
        assert row["model_mse"] < row["mean_frame_mse"], row
    means = summary["mean_over_horizon"]
    assert means["model_mse"] < 0.8 * min(means["repeat_last_mse"], means["mean_frame_mse"])
    assert summary["checkpoint"]["metadata"]["updates"] == 1000

