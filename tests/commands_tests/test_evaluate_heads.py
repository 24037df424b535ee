"""``recurrent-sim evaluate`` on a simulator with heads: reward, episode-end and drift figures beside baselines."""
import csv
import json

import numpy as np
import pytest

from recurrent_sim.envs import make_game
from recurrent_sim.training import save_checkpoint

from tests.helpers import small_simulator

GAME = "BlockWorld-v1"
WARMUP, HORIZON, SEQUENCES = 3, 25, 6
HEAD_COLUMNS = ("head_steps", "reward_accuracy", "reward_baseline_accuracy", "done_precision", "done_recall",
                "done_f1", "drift_spearman")


@pytest.fixture(scope="module")
def heads_checkpoint(tmp_path_factory):
    simulator = small_simulator(heads=True)
    game = make_game(GAME, seed=0, frame_size=32)
    game.reset()
    frames = [game.last_frame] + [game.step(t % 5)[0][-1] for t in range(40)]
    simulator.set_mean_image(np.stack(frames))
    folder = tmp_path_factory.mktemp("heads") / "sim"
    save_checkpoint(folder, simulator, metadata={"env_id": GAME, "frame_size": 32})
    return folder


def test_evaluate_reports_head_figures_in_csv_json_and_lines(run_cli, heads_checkpoint, tmp_path, caplog):
    caplog.set_level("INFO")
    out = tmp_path / "out"
    code, _, err = run_cli("evaluate", "--loadtosim", heads_checkpoint, "--out", out, "--warmup", WARMUP,
                           "--horizon", HORIZON, "--sequences", SEQUENCES, "--batch-size", 4, "--seed", 1)
    assert code == 0, err
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == HORIZON and all(column in rows[0] for column in HEAD_COLUMNS)
    steps = [int(row["head_steps"]) for row in rows]
    assert steps[0] >= SEQUENCES and steps == sorted(steps, reverse=True)  # cut sequences count until their end
    summary = json.loads((out / "summary.json").read_text())
    overall = summary["heads"]["overall"]
    assert overall["steps"] == sum(steps)
    assert np.sum(overall["reward_confusion"]) == overall["steps"]
    assert overall["done_counts"]["true"] >= 1  # BlockWorld-v1 episodes end within 25 random steps
    assert 0 <= overall["reward_baseline_accuracy"] <= 1 and -1 <= overall["drift_spearman"] <= 1
    assert summary["heads"]["steps"]["1"]["reward_accuracy"] == pytest.approx(float(rows[0]["reward_accuracy"]))
    assert summary["n_sequences"] == SEQUENCES  # the frame errors use the complete sequences only
    text = caplog.text
    assert "reward accuracy" in text and "majority class" in text and "Spearman" in text


def test_evaluate_without_heads_has_no_head_columns(run_cli, untrained_checkpoint, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli("evaluate", "--loadtosim", untrained_checkpoint, "--env", "BlockWorld-v0", "--out", out,
                           "--warmup", 2, "--horizon", 3, "--sequences", 2)
    assert code == 0, err
    assert "reward_accuracy" not in (out / "metrics.csv").read_text().splitlines()[0]
    assert "heads" not in json.loads((out / "summary.json").read_text())


def test_unknown_pretrained_name_is_one_line(run_cli, tmp_path):
    code, _, err = run_cli("evaluate", "--pretrained", "nosuchgame", "--out", tmp_path / "out")
    assert code == 2 and "no pretrained simulator 'nosuchgame'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
