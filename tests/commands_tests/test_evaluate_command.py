"""``recurrent-sim evaluate`` end to end on BlockWorld: outputs, agreement, reproducibility, errors."""
import csv
import hashlib
import json
import os
import subprocess
import sys

import imageio
import numpy as np
import pytest

from recurrent_sim.training import save_checkpoint

from tests.helpers import BLOCKWORLD, small_simulator

WARMUP, HORIZON, SEQUENCES = 4, 12, 6
OUTPUTS = ("config.json", "metrics.csv", "summary.json", "error_curve.png", "object_curve.png", "rollout.gif",
           "rollout_frames.png")
ERROR_COLUMNS = ("model_mse", "repeat_last_mse", "mean_frame_mse", "model_mse_sem", "ratio_to_best_baseline",
                 "model_psnr", "repeat_last_psnr", "mean_frame_psnr", "model_psnr_seqavg", "repeat_last_psnr_seqavg",
                 "mean_frame_psnr_seqavg")
OBJECT_COLUMNS = tuple(f"object_{m}_{p}" for m in ("iou", "recall", "precision") for p in ("model", "repeat_last"))
POSITION_COLUMNS = tuple(f"{o}_{m}_{p}" for m in ("position_error", "within_1px") for o in ("square", "ball")
                         for p in ("model", "repeat_last"))


def evaluate_args(checkpoint, out, *extra):
    return (
        "evaluate", "--loadtosim", checkpoint, "--env", BLOCKWORLD, "--out", out, "--warmup", WARMUP,
        "--horizon", HORIZON, "--sequences", SEQUENCES, "--batch-size", 4, *extra,
    )


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: (float(v) if k != "step" else int(v)) for k, v in row.items()} for row in rows]


@pytest.fixture(scope="module")
def untrained_run_and_log(tmp_path_factory, untrained_checkpoint):
    """The output folder of an evaluation of the untrained simulator, and the lines it logged."""
    import logging

    from recurrent_sim.cli import main

    out = tmp_path_factory.mktemp("untrained_eval") / "out"
    lines = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    package_logger = logging.getLogger("recurrent_sim")
    level = package_logger.level
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)
    try:
        assert main([str(a) for a in evaluate_args(untrained_checkpoint, out)]) == 0
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
    return out, lines


@pytest.fixture(scope="module")
def untrained_run(untrained_run_and_log):
    return untrained_run_and_log[0]


def test_writes_all_outputs(untrained_run):
    assert sorted(os.listdir(untrained_run)) == sorted(OUTPUTS)


def test_csv_has_one_row_per_step_and_agrees_with_json(untrained_run):
    rows = read_csv(untrained_run / "metrics.csv")
    summary = json.loads((untrained_run / "summary.json").read_text())
    assert [row["step"] for row in rows] == list(range(1, HORIZON + 1))
    for prefix in ("model", "repeat_last", "mean_frame"):
        for row in rows:
            assert row[f"{prefix}_mse"] > 0
            assert row[f"{prefix}_psnr"] == pytest.approx(10 * np.log10(1 / row[f"{prefix}_mse"]), abs=1e-9)
    assert list(rows[0]) == ["step", *ERROR_COLUMNS, *OBJECT_COLUMNS, *POSITION_COLUMNS]
    assert set(summary["steps"]) == {"1", "5", "10", str(HORIZON)}
    for step, values in summary["steps"].items():
        row = rows[int(step) - 1]
        assert values == {k: row[k] for k in ERROR_COLUMNS}  # exactly equal numbers
    means = summary["mean_over_horizon"]
    assert means["model_mse"] == pytest.approx(np.mean([r["model_mse"] for r in rows]), rel=1e-12)

    horizon = summary["accurate_horizon"]
    mean_frame = np.mean([r["mean_frame_mse"] for r in rows])
    assert horizon["threshold_fraction_of_mean_frame_mse"] == 0.5
    assert horizon["threshold_mse"] == pytest.approx(0.5 * mean_frame, rel=1e-12)
    over = [r["step"] for r in rows if r["model_mse"] > horizon["threshold_mse"]]
    assert horizon["first_step_over_threshold"] == (over[0] if over else None)


def test_object_measures_in_csv_summary_and_log(untrained_run_and_log):
    out, lines = untrained_run_and_log
    rows = read_csv(out / "metrics.csv")
    objects = json.loads((out / "summary.json").read_text())["objects"]
    assert set(objects["steps"]) == {"1", "2", "5", "10", str(HORIZON)}
    for step, values in objects["steps"].items():
        assert values == {k: rows[int(step) - 1][k] for k in OBJECT_COLUMNS + POSITION_COLUMNS}
    for row in rows:
        assert all(0 <= row[k] <= 1 for k in OBJECT_COLUMNS if k.startswith("object"))
        assert all(row[k] >= 0 for k in POSITION_COLUMNS)
    assert objects["mean_over_horizon"]["ball_position_error_model"] == pytest.approx(
        np.mean([r["ball_position_error_model"] for r in rows]), rel=1e-12)
    recall = [r["object_recall_model"] for r in rows]
    first = next((k + 1 for k, value in enumerate(recall) if value < 0.5), None)
    assert objects["object_horizon"] == {"first_step_recall_under": first, "recall_threshold": 0.5,
                                         "steps_before": HORIZON if first is None else first - 1}
    assert (objects["level"], objects["distance"], objects["tracked_objects"]) == (30.0, 2.0, ["square", "ball"])
    object_lines = [line for line in lines if ": objects IoU model " in line]
    assert [line.split(":")[0] for line in object_lines] == [f"step {s:3d}" for s in (1, 2, 5, 10, HORIZON)]
    assert object_lines[0] == (
        f"step   1: objects IoU model {rows[0]['object_iou_model']:.3f} (repeat last frame "
        f"{rows[0]['object_iou_repeat_last']:.3f}), recall {rows[0]['object_recall_model']:.3f} "
        f"({rows[0]['object_recall_repeat_last']:.3f}), precision {rows[0]['object_precision_model']:.3f} "
        f"({rows[0]['object_precision_repeat_last']:.3f})")
    assert sum("position error model (repeat last frame) square " in line for line in lines) == 5
    assert sum(line.startswith("object horizon: ") for line in lines) == 1
    # where each object was first lost: as many sequences as the last step's within-1-px share leaves lost
    for name in ("square", "ball"):
        lost = objects["first_lost"][name]
        never = 1 - rows[-1][f"{name}_within_1px_model"]  # lost at the last step: lost at some step
        assert lost["lost"] >= round(never * lost["sequences"]) and sum(lost["places"].values()) == lost["lost"]
        line = next(line for line in lines if line.startswith(f"{name} first more than 1 px off in "))
        assert line.startswith(f"{name} first more than 1 px off in {lost['lost']} of {lost['sequences']} sequences")
    assert imageio.v2.imread(out / "object_curve.png").shape[:2] == (900, 800)


def test_object_flags(run_cli, untrained_checkpoint, tmp_path):
    code, _, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path, "--sequences", 2, "--horizon", 3,
                                          "--object-level", 254, "--object-distance", 0))
    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["objects"]["level"], summary["objects"]["distance"]) == (254.0, 0.0)
    assert (summary["settings"]["object_level"], summary["settings"]["object_distance"]) == (254.0, 0.0)
    # nothing in BlockWorld is 254 gray levels from its background: no foreground, IoU 1 by definition
    assert all(row["object_iou_repeat_last"] == 1 for row in read_csv(tmp_path / "metrics.csv"))


def test_summary_records_settings_and_checkpoint(untrained_run, untrained_checkpoint):
    summary = json.loads((untrained_run / "summary.json").read_text())
    assert summary["n_sequences"] == SEQUENCES and summary["horizon"] == HORIZON
    settings = summary["settings"]
    assert (settings["env"], settings["warmup"], settings["horizon"]) == (BLOCKWORLD, WARMUP, HORIZON)
    assert (settings["sequences"], settings["seed"], settings["frame_size"]) == (SEQUENCES, 0, 32)
    assert summary["checkpoint"]["path"] == os.path.join(str(untrained_checkpoint), "simulator.npz")
    assert summary["checkpoint"]["metadata"] == {"env_id": BLOCKWORLD, "frame_size": 32}
    assert summary["checkpoint"]["config"]["hidden_size"] == 16


def test_images_decode_with_the_expected_sizes(untrained_run):
    curve = imageio.v2.imread(untrained_run / "error_curve.png")
    assert curve.shape[:2] == (500, 800)
    # a panel is 32 x 5 = 160 pixels: three panels and two 2-pixel gaps; 14-pixel label and caption bands
    frame_shape = (14 + 160 + 14, 3 * 160 + 2 * 2)
    gif = imageio.v2.mimread(untrained_run / "rollout.gif")
    assert len(gif) == HORIZON
    assert all(frame.shape[:2] == frame_shape for frame in gif)
    still = imageio.v2.imread(untrained_run / "rollout_frames.png")
    assert still.shape[:2] == (4 * frame_shape[0], frame_shape[1])  # steps 1, 5, 10, 12
    assert len({frame.tobytes() for frame in gif}) > 1


def test_untrained_simulator_does_not_beat_repeating_the_last_frame(untrained_run):
    rows = read_csv(untrained_run / "metrics.csv")
    assert rows[0]["model_mse"] > rows[0]["repeat_last_mse"]
    # nor the better baseline at any step (repeat-last early, the mean frame later)
    for row in rows:
        assert row["model_mse"] > min(row["repeat_last_mse"], row["mean_frame_mse"])
    summary = json.loads((untrained_run / "summary.json").read_text())
    assert summary["accurate_horizon"]["first_step_over_threshold"] == 1


def test_same_seed_same_metrics_other_seed_other_metrics(run_cli, untrained_checkpoint, untrained_run, tmp_path):
    code, _, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path / "again"))
    assert code == 0, err
    first = (untrained_run / "metrics.csv").read_bytes()
    assert (tmp_path / "again" / "metrics.csv").read_bytes() == first
    code, _, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path / "other", "--seed", 1))
    assert code == 0, err
    assert (tmp_path / "other" / "metrics.csv").read_bytes() != first


def test_absolute_threshold(run_cli, untrained_checkpoint, tmp_path):
    code, _, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path, "--threshold-mse", 1e-9,
                                          "--sequences", 2, "--horizon", 3))
    assert code == 0, err
    horizon = json.loads((tmp_path / "summary.json").read_text())["accurate_horizon"]
    assert horizon == {"first_step_over_threshold": 1, "accurate_steps": 0, "threshold_mse": 1e-9,
                       "threshold_fraction_of_mean_frame_mse": None}


def test_game_defaults_to_the_checkpoints(run_cli, tmp_path, blockworld_buffer):
    simulator = small_simulator()
    simulator.set_mean_image(blockworld_buffer.first_frames(50))
    save_checkpoint(tmp_path / "sim", simulator, metadata={"env_id": BLOCKWORLD})
    code, _, err = run_cli("evaluate", "--loadtosim", tmp_path / "sim", "--out", tmp_path / "out",
                           "--sequences", 1, "--horizon", 2, "--warmup", 2)
    assert code == 0, err
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]["env"] == BLOCKWORLD


def checksum(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--horizon", 0), "--horizon must be a positive integer, got 0"),
        (("--sequences", -3), "--sequences must be a positive integer, got -3"),
        (("--warmup", 0), "--warmup must be a positive integer"),
        (("--env", "BlockWorld-v9"), "did you mean: BlockWorld-v1, BlockWorld-v0?"),
        (("--frame-size", 84), "--frame-size 84 does not match the 32x32 frames"),
        (("--threshold", -1), "argument --threshold: expected a positive finite number, got '-1'"),
        (("--threshold", "inf"), "argument --threshold: expected a positive finite number, got 'inf'"),
        (("--env", ""), "argument --env: expected the gym id of a game"),
        (("--object-level", 255), "--object-level must be a gray level in 0..255 (exclusive), got 255.0"),
        (("--object-distance", -1), "--object-distance must be a number of pixels >= 0, got -1.0"),
    ],
)
def test_user_errors_are_one_line_exit_2(run_cli, untrained_checkpoint, tmp_path, extra, message):
    before = checksum(untrained_checkpoint / "simulator.npz")
    code, out, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path / "out"), *extra)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("recurrent-sim evaluate: error: ")
    assert message in err
    assert checksum(untrained_checkpoint / "simulator.npz") == before
    assert not (tmp_path / "out" / "metrics.csv").exists()


def test_missing_simulator_folder(run_cli, tmp_path):
    code, _, err = run_cli(*evaluate_args(tmp_path / "nowhere", tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1
    assert "nowhere does not exist" in err


def test_simulator_for_another_action_count(run_cli, tmp_path, blockworld_buffer):
    simulator = small_simulator(n_actions=4)
    simulator.set_mean_image(blockworld_buffer.first_frames(50))
    save_checkpoint(tmp_path / "sim4", simulator, metadata={"env_id": "Breakout-v0"})
    code, _, err = run_cli(*evaluate_args(tmp_path / "sim4", tmp_path / "out"))
    assert code == 2 and err.count("\n") == 1
    assert "was trained for 4 actions but BlockWorld-v0 has 5" in err


def test_simulator_without_mean_image(run_cli, tmp_path):
    save_checkpoint(tmp_path / "raw", small_simulator())
    code, _, err = run_cli(*evaluate_args(tmp_path / "raw", tmp_path / "out"))
    assert code == 2 and "no mean image" in err


def test_episodes_shorter_than_a_sequence(run_cli, untrained_checkpoint, tmp_path):
    code, _, err = run_cli(*evaluate_args(untrained_checkpoint, tmp_path / "out", "--horizon", 150,
                                          "--max-gap", 0))
    assert code == 2 and err.count("\n") == 1
    assert "end after at most 100 steps (101 frames), too few for 154 frames" in err


def test_module_entry_point_reports_errors_with_exit_status_2(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "recurrent_sim", "evaluate", "--loadtosim", str(tmp_path / "missing"),
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "recurrent-sim evaluate" in line]
    assert errors == [f"recurrent-sim evaluate: error: checkpoint {tmp_path / 'missing'} does not exist"]


def test_breakout_at_84_pixels(run_cli, tmp_path):
    """The real game the command is meant for, on a small untrained simulator."""
    from tests.helpers import collect_buffer

    buffer = collect_buffer(1, seed=0, frame_size=84, env_id="Breakout-v0")
    simulator = small_simulator(n_actions=4, frame_size=84)
    simulator.set_mean_image(buffer.first_frames(100))
    save_checkpoint(tmp_path / "break", simulator, metadata={"env_id": "Breakout-v0", "frame_size": 84})
    code, _, err = run_cli("evaluate", "--loadtosim", tmp_path / "break", "--env", "Breakout-v0",
                           "--out", tmp_path / "out", "--sequences", 3, "--horizon", 5, "--warmup", 3)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "out")) == sorted(OUTPUTS)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_sequences"] == 3 and summary["settings"]["frame_size"] == 84
    gif = imageio.v2.mimread(tmp_path / "out" / "rollout.gif")
    assert len(gif) == 5 and gif[0].shape[:2] == (14 + 168 + 14, 3 * 168 + 2 * 2)


def test_a_format_1_simulator_still_evaluates(tmp_path, run_cli):
    from tests.helpers import write_format1_checkpoint

    write_format1_checkpoint(str(tmp_path / "break" / "simulator.npz"))
    code, out, err = run_cli(*evaluate_args(tmp_path / "break", tmp_path / "out"))
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["checkpoint"]["config"]["architecture"] == "paper"
    assert np.isfinite(summary["mean_over_horizon"]["model_mse"])
