"""The prediction-independent simulator through `recurrent-sim train`, `evaluate` and the demo, on BlockWorld."""
import csv
import re

from recurrent_sim.models import IndependentSimulator
from recurrent_sim.training import load_checkpoint
from tests.helpers import BLOCKWORLD, evaluate_on_blockworld, load_original_script, run_original_script

TRAIN_FLAGS = ["--architecture", "independent", "--loss", "independent_mse", "--hidden-size", "8",
               "--batch-size", "2", "--unroll-dep", "2", "--obs-dep", "1", "--pred-dep", "3",
               "--validation-fraction", "0.34", "--validation-sequences", "4", "--checkpoint-every", "3",
               "--log-every", "1"]


def test_train_evaluate_and_demo(tmp_path, cli, capsys, monkeypatch):
    data, run = tmp_path / "data", tmp_path / "run"
    code, out, err = cli("collect", "--env", BLOCKWORLD, "--frame-size", 32, "--out", data, "--episodes", 3,
                         "--policy", "random", "--max-episode-steps", 40)
    assert code == 0, err
    code, out, err = cli("train", data, "--out", run, "--updates", 6, *TRAIN_FLAGS)
    assert code == 0 and "trained to update 6" in out, err
    with open(run / "log.csv") as f:
        rows = [row for row in csv.DictReader(f) if row["train_error"]]
    assert len(rows) == 6
    assert all(float(row["train_pred_mse"]) > 0 and float(row["train_obs_mse"]) > 0 for row in rows)
    checkpoint = load_checkpoint(run)
    assert checkpoint.config.architecture == "independent"
    assert checkpoint.metadata["settings"]["loss"] == "independent_mse"
    assert type(checkpoint.build_simulator()) is IndependentSimulator

    # evaluate: after the warm-up the rollouts advance from the actions alone:
    # per sequence, the warm-up frames are encoded and no predicted frame is.
    encoded = []
    encode = IndependentSimulator.encode
    monkeypatch.setattr(IndependentSimulator, "encode", lambda self, x: encoded.append(len(x)) or encode(self, x))
    evaluate_on_blockworld(cli, run, tmp_path / "evaluation", "independent", sequences=3, warmup=3, horizon=5)
    assert sum(encoded) == 3 * 3

    status, out, err = run_original_script(
        load_original_script(), capsys, "1", "--env", BLOCKWORLD, "--loadtosim", run, "--demo",
        "--eval-n-runs", "1", "--outdir", tmp_path / "out", "--logger-level", "30", "--saliency-interval", "0")
    assert status == 0, err
    assert re.search(r"^n_runs: 1 mean: ", out, re.M)
