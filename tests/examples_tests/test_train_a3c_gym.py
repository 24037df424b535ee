"""The original-compatible script examples/mygym/train_a3c_gym.py, end to end."""
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from recurrent_sim.training import load_checkpoint
from tests.helpers import load_original_script, run_original_script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "mygym", "train_a3c_gym.py")
N_RUNS_LINE = re.compile(r"^n_runs: (\d+) mean: (\S+) median: (\S+) stdev (\S+)$", re.M)

# Small settings so a BlockWorld run trains the simulator in a few seconds.
BLOCKWORLD_TRAIN = [
    "1", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8",
    "--unroll_dep", "3", "--obs_dep", "2", "--pred_dep", "2", "--batch_size", "2",
    "--warm_up_steps", "40", "--training_steps", "10", "--saving_steps", "100", "--steps", "200",
    "--eval-n-runs", "0", "--logger-level", "30",
]


@pytest.fixture(scope="module")
def script():
    return load_original_script()


_run = run_original_script


def test_help_lists_every_original_flag_and_the_changed_defaults(script):
    text = script.build_parser().format_help()
    for flag in ("--env", "--arch", "--seed", "--outdir", "--t-max", "--beta", "--profile", "--steps",
                 "--eval-interval", "--eval-n-runs", "--reward-scale-factor", "--rmsprop-epsilon", "--render",
                 "--lr", "--weight-decay", "--demo", "--load", "--logger-level", "--monitor",
                 "--frame-buffer-length", "--render-b2w", "--min_reward", "--loadtosim", "--savesim",
                 "--unroll_dep", "--obs_dep", "--pred_dep", "--batch_size", "--warm_up_steps",
                 "--buffer_size_sim", "--training_steps", "--saving_steps", "--chain_period",
                 "--num_output_channels_sim", "--gpu", "--agent"):
        assert re.search(re.escape(flag) + r"\b", text), flag
    assert text.count("changed:") >= 6


@pytest.mark.parametrize("argv, message", [
    (["0"], "processes must be at least 1"),
    (["2", "--demo", "--loadtosim", "/nonexistent/sim"], "processes must be 1 with --demo"),
    (["1", "--demo"], "--demo needs --loadtosim"),
    (["1", "--steps", "0"], "argument --steps: expected a positive integer"),
    (["1", "--env", "Breakout-v9"], "Breakout"),
    (["1", "--demo", "--loadtosim", "/nonexistent/sim"], "does not exist"),
    (["1", "--lr-decay"], "--lr-decay needs a learning agent (--agent a3c, not --demo) and processes 1"),
    (["2", "--agent", "a3c", "--lr-decay"], "--lr-decay needs a learning agent"),
])
def test_user_errors_are_one_line_and_exit_2(script, capsys, tmp_path, argv, message):
    status, out, err = _run(script, capsys, *argv, "--outdir", str(tmp_path / "out"))
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_savesim_that_is_a_file_is_refused_before_training(script, capsys, tmp_path):
    (tmp_path / "taken").write_text("keep me")
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--savesim", str(tmp_path / "taken"),
                            "--outdir", str(tmp_path / "out"))
    assert status == 2 and "is a file; give a folder" in err and "training:" not in out
    assert (tmp_path / "taken").read_text() == "keep me"


def test_train_then_demo_on_blockworld(script, capsys, tmp_path):
    savesim = tmp_path / "new" / "sim"  # the folder does not exist yet
    outdir = tmp_path / "out"
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--savesim", str(savesim), "--outdir", str(outdir),
                            "--min_reward", "-500", "--reward-scale-factor", "1.0")
    assert status == 0, err
    checkpoint = load_checkpoint(str(savesim))
    assert checkpoint.config.hidden_size == 8 and checkpoint.config.frame_shape == (32, 32)
    assert checkpoint.config.n_actions == 5
    assert checkpoint.metadata["env_id"] == "BlockWorld-v0" and checkpoint.metadata["updates"] > 0
    assert checkpoint.build_simulator().has_mean_image
    assert f"simulator saved in {savesim}" in out

    status, out, err = _run(script, capsys, "1", "--env", "BlockWorld-v0", "--loadtosim", str(savesim), "--demo",
                            "--render-b2w", "--chain_period", "7", "--eval-n-runs", "2", "--outdir", str(outdir),
                            "--logger-level", "30", "--saliency-interval", "50")
    assert status == 0, err
    match = N_RUNS_LINE.search(out)
    assert match and match.group(1) == "2", out
    assert out.strip().splitlines()[-1] == match.group(0)
    scores = [float(match.group(2)), float(match.group(3)), float(match.group(4))]
    assert all(np.isfinite(scores))
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    assert sorted(os.listdir(os.path.join(run_dir, "b2w"))) == ["episode_001", "episode_001.gif", "episode_002",
                                                                "episode_002.gif"]
    assert len(os.listdir(os.path.join(run_dir, "b2w", "episode_001"))) == 100
    assert sorted(os.listdir(os.path.join(run_dir, "saliency", "episode_002"))) == ["step_00000.png",
                                                                                     "step_00050.png"]

    # an architecture flag that contradicts the saved simulator is refused in one line
    status, out, err = _run(script, capsys, "1", "--env", "BlockWorld-v0", "--loadtosim", str(savesim), "--demo",
                            "--num_output_channels_sim", "16", "--outdir", str(outdir))
    assert status == 2 and "8 units" in err and len(err.strip().splitlines()) == 1
    # a simulator of another game is refused too
    status, out, err = _run(script, capsys, "1", "--env", "Breakout-v0", "--loadtosim", str(savesim), "--demo",
                            "--outdir", str(outdir))
    assert status == 2 and "5 actions" in err


def test_learning_agent_saves_itself_and_reloads(script, capsys, tmp_path):
    outdir = tmp_path / "out"
    # the simulator does not train here (warm-up longer than the run): only the agent matters
    argv = ["1", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8", "--steps", "120",
            "--warm_up_steps", "1000", "--eval-n-runs", "0", "--logger-level", "30"]
    status, out, err = _run(script, capsys, *argv, "--agent", "a3c", "--outdir", str(outdir))
    assert status == 0, err
    agent_dir = re.search(r"agent saved in (\S+)", out).group(1)
    assert agent_dir.endswith("120_finish")
    assert sorted(os.listdir(agent_dir)) == ["agent.json", "model.npz", "optimizer.npz"]
    status, out, err = _run(script, capsys, *argv, "--agent", "a3c", "--load", agent_dir, "--outdir", str(outdir))
    assert status == 0, err
    status, out, err = _run(script, capsys, *argv, "--load", str(tmp_path / "missing"), "--outdir", str(outdir))
    assert status == 2 and "does not exist" in err


def test_lr_decay_takes_the_agents_learning_rate_to_zero_over_the_steps(script, capsys, tmp_path, monkeypatch):
    from recurrent_sim.agents.hooks import lr_decay_hook
    from recurrent_sim.commands.original import runs

    seen = []

    def recording_hook(steps, lr):
        hook = lr_decay_hook(steps, lr)

        def record(env, agent, step):
            hook(env, agent, step)
            seen.append((step, agent.optimizer.lr))
        return record

    monkeypatch.setattr(runs, "lr_decay_hook", recording_hook)
    argv = ["1", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8", "--steps", "101",
            "--warm_up_steps", "1000", "--eval-n-runs", "0", "--logger-level", "30", "--agent", "a3c", "--lr", "1e-3"]
    status, out, err = _run(script, capsys, *argv, "--lr-decay", "--outdir", str(tmp_path / "out"))
    assert status == 0, err
    assert [step for step, _ in seen] == list(range(1, 102))
    assert seen[0][1] == pytest.approx(1e-3) and seen[50][1] == pytest.approx(5e-4) and seen[-1][1] == 0.0
    seen.clear()
    status, out, err = _run(script, capsys, *argv, "--outdir", str(tmp_path / "out"))
    assert status == 0 and seen == []  # without --lr-decay the rate stays


def test_script_runs_as_a_program(tmp_path):
    """The script as users start it: a subprocess, a user error gives one line and status 2."""
    result = subprocess.run([sys.executable, SCRIPT, "0", "--outdir", str(tmp_path)], capture_output=True,
                            text=True, cwd=str(tmp_path), timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("train_a3c_gym.py: error: processes must be at least 1")


def test_breakout_train_then_demo(script, capsys, tmp_path):
    """The original README's pipeline on Breakout with small settings: train, save, demo."""
    savesim = tmp_path / "break"
    status, out, err = _run(
        script, capsys, "1", "--env", "Breakout-v0", "--outdir", str(tmp_path / "outdir"), "--min_reward", "-500",
        "--reward-scale-factor", "1.0", "--eval-n-runs", "0", "--savesim", str(savesim), "--steps", "160",
        "--warm_up_steps", "80", "--training_steps", "40", "--saving_steps", "80", "--unroll_dep", "2",
        "--obs_dep", "2", "--pred_dep", "2", "--batch_size", "2", "--num_output_channels_sim", "16",
        "--logger-level", "30")
    assert status == 0, err
    assert load_checkpoint(str(savesim)).config.frame_shape == (84, 84)
    status, out, err = _run(
        script, capsys, "1", "--env", "Breakout-v0", "--outdir", str(tmp_path / "outdir"), "--eval-n-runs", "1",
        "--loadtosim", str(savesim), "--demo", "--render-b2w", "--chain_period", "100", "--logger-level", "30",
        "--gif-frames", "30", "--saliency-interval", "50", "--max-episode-len", "120")
    assert status == 0, err
    assert N_RUNS_LINE.search(out).group(1) == "1"
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    assert len(os.listdir(os.path.join(run_dir, "b2w", "episode_001"))) == 120
    assert os.path.exists(os.path.join(run_dir, "b2w", "episode_001.gif"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_training_and_saves(tmp_path, signum):
    """Ctrl-C or SIGTERM: training stops between steps, the simulator and the agent are saved."""
    argv = [a if a != "200" else "1000000" for a in BLOCKWORLD_TRAIN]
    argv[argv.index("--logger-level") + 1] = "20"
    command = [sys.executable, "-W", "ignore", SCRIPT, *argv, "--agent", "a3c", "--savesim", str(tmp_path / "sim"),
               "--outdir", str(tmp_path / "out")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(tmp_path),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    for line in process.stdout:  # wait until the simulator has trained a little
        lines.append(line)
        if "simulator update" in line or len(lines) > 2000:
            break
    time.sleep(0.5)
    process.send_signal(signum)
    out, _ = process.communicate(timeout=120)
    out = "".join(lines) + out
    assert process.returncode == 128 + signum, out
    assert f"{signal.Signals(signum).name} received after" in out
    assert load_checkpoint(str(tmp_path / "sim")).metadata["updates"] > 0
    agent_dir = re.search(r"agent saved in (\S+)", out).group(1)
    assert re.search(r"\d+_except$", agent_dir) and os.path.exists(os.path.join(tmp_path, agent_dir, "model.npz"))


def test_a_format_1_simulator_plays_a_demo_and_trains_on(script, capsys, tmp_path):
    from tests.helpers import write_format1_checkpoint

    write_format1_checkpoint(str(tmp_path / "break" / "simulator.npz"))
    status, out, err = _run(script, capsys, "1", "--env", "BlockWorld-v0", "--loadtosim", tmp_path / "break",
                            "--demo", "--eval-n-runs", "1", "--outdir", tmp_path / "out", "--logger-level", "30",
                            "--saliency-interval", "0")
    assert status == 0, err
    assert N_RUNS_LINE.search(out).group(1) == "1"
    # continuing its training keeps it unless the new error beats the one it was saved with
    saved_error = load_checkpoint(str(tmp_path / "break")).metadata["error"]
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--loadtosim", tmp_path / "break",
                            "--savesim", tmp_path / "break", "--outdir", tmp_path / "out")
    assert status == 0, err
    checkpoint = load_checkpoint(str(tmp_path / "break"))
    assert checkpoint.config.architecture == "paper"
    assert checkpoint.metadata["error"] <= saved_error


def test_the_original_script_continues_an_offline_trained_simulator_with_its_error(script, capsys, tmp_path):
    from tests.helpers import write_format1_checkpoint

    write_format1_checkpoint(str(tmp_path / "run" / "simulator.npz"), "format1_train_best.json")
    validation_error = load_checkpoint(str(tmp_path / "run")).metadata["validation_error"]
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--unroll_dep", "2", "--loadtosim", tmp_path / "run",
                            "--savesim", tmp_path / "run", "--outdir", tmp_path / "out", "--logger-level", "20")
    assert status == 0, err
    saved = load_checkpoint(str(tmp_path / "run")).metadata
    if saved["kind"] == "simulator" and saved.get("error_source") == "training":  # replaced: it did better
        assert saved["error"] < validation_error
    else:  # kept: the training error never beat the saved one
        assert saved["validation_error"] == validation_error


def test_the_run_folder_holds_config_scores_and_the_simulator_log(script, capsys, tmp_path):
    import csv
    import json

    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--eval-n-runs", "1", "--eval-interval", "100",
                            "--savesim", tmp_path / "sim", "--outdir", tmp_path / "out", "--training_steps", "2")
    assert status == 0, err
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    names = set(os.listdir(run_dir))
    assert {"config.json", "scores.txt", "args.txt", "command.txt", "log.csv", "training_curve.png"} <= names
    assert any(name.startswith("events.out.tfevents.") for name in names)
    config = json.load(open(os.path.join(run_dir, "config.json")))
    assert config["settings"]["env"] == "BlockWorld-v0" and config["settings"]["warm_up_steps"] == 40
    with open(os.path.join(run_dir, "scores.txt")) as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert list(rows[0])[:8] == ["steps", "episodes", "elapsed", "mean", "median", "stdev", "max", "min"]
    assert [int(row["steps"]) for row in rows] == [100, 200, 200]  # two evaluations, then the training episodes
    assert all(float(row["min"]) <= float(row["mean"]) <= float(row["max"]) for row in rows)
    with open(os.path.join(run_dir, "log.csv")) as f:
        log = list(csv.DictReader(f))
    assert log and all(float(row["train_error"]) > 0 for row in log)
    assert int(log[-1]["step"]) == 200  # the last row logs the updates since the previous one, at the end
    assert int(log[-1]["update"]) >= load_checkpoint(str(tmp_path / "sim")).metadata["updates"] > 0


def test_skip_architecture_and_a_scheme_train_online_then_play(script, capsys, tmp_path):
    savesim, outdir = tmp_path / "sim", tmp_path / "out"
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, "--sim-architecture", "skip", "--scheme", "46-alt",
                            "--bptt-chunks", "2", "--buffer_size_sim", "200", "--savesim", str(savesim),
                            "--outdir", str(outdir))
    assert status == 0, err
    checkpoint = load_checkpoint(str(savesim))
    assert checkpoint.config.architecture == "skip" and checkpoint.metadata["updates"] > 0
    sequence = checkpoint.metadata["settings"]["sequence"]
    assert sequence["name"] == "46-alt" and sequence["chunks"] == 2
    status, out, err = _run(script, capsys, "1", "--env", "BlockWorld-v0", "--loadtosim", str(savesim), "--demo",
                            "--eval-n-runs", "1", "--max-episode-len", "30", "--outdir", str(outdir),
                            "--logger-level", "30")
    assert status == 0 and N_RUNS_LINE.search(out), err


@pytest.mark.parametrize("flags, message", [
    (["--bptt-chunks", "2"], "--bptt-chunks needs a scheme"),
    (["--curriculum-updates", "5"], "--curriculum-updates needs a scheme"),
    (["--scheme", "67", "--curriculum-updates", "5"], "needs 0 boundaries"),
])
def test_bad_scheme_flags_of_the_original_script_are_one_line(script, capsys, tmp_path, flags, message):
    status, out, err = _run(script, capsys, *BLOCKWORLD_TRAIN, *flags, "--outdir", str(tmp_path / "out"))
    assert status == 2 and message in err.strip().splitlines()[-1], err
    assert not (tmp_path / "out").exists()
