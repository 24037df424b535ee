"""What the command lines never do, second pass: mix the outputs of two evaluations, die on SIGTERM
without a word, print a traceback for an out-of-range seed, a folder name that is not UTF-8 or a
Ctrl-C while the modules load, or call a full or read-only disk bad input."""
import errno
import gc
import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from recurrent_sim.utils.settings import MAX_SEED
from tests.commands_tests.test_trust import one_error_line, snapshot
from tests.helpers import (
    BLOCKWORLD, ORIGINAL_SCRIPT, REPO, SMALL_TRAIN_FLAGS, default_signals, load_original_script, own_lines,
    python_env, run_original_script,
)

EVALUATE = ["--env", BLOCKWORLD, "--warmup", "4", "--horizon", "30", "--sequences", "4", "--batch-size", "4"]
SCRIPT_RUN = ["1", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8",
              "--unroll_dep", "3", "--obs_dep", "2", "--pred_dep", "2", "--batch_size", "2", "--warm_up_steps", "40",
              "--training_steps", "10", "--saving_steps", "100", "--steps", "100", "--logger-level", "30"]


def evaluate(cli, checkpoint, out, seed):
    code, _, err = cli("evaluate", "--loadtosim", checkpoint, "--out", out, *EVALUATE, "--seed", seed)
    assert code == 0, err
    return snapshot(out)


# ----- 7: evaluate replaces its outputs all at once ---------------------------------------------

# `recurrent-sim evaluate ARGS` that, once its first output (config.json) is in the stage, says so on stdout and
# waits: a signal sent then always lands with the other outputs still to write.
EVALUATE_PAUSED_AFTER_FIRST_OUTPUT = """
import sys, time
import recurrent_sim.commands.evaluate as evaluate
from recurrent_sim.cli import main

write = evaluate.write_run_config

def write_then_wait(*args, **kwargs):
    path = write(*args, **kwargs)
    print("first output staged", flush=True)
    time.sleep(300)
    return path

evaluate.write_run_config = write_then_wait
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum, status, message", [
    (signal.SIGTERM, 143, "recurrent-sim evaluate: terminated (SIGTERM)"),
    (signal.SIGINT, 130, "recurrent-sim evaluate: interrupted"),
])
def test_a_signal_while_evaluate_writes_leaves_the_earlier_outputs(tmp_path, untrained_checkpoint, cli, signum,
                                                                    status, message):
    out = tmp_path / "evaluation"
    before = evaluate(cli, untrained_checkpoint, out, 1)
    argv = ["evaluate", "--loadtosim", untrained_checkpoint, "--out", out, *EVALUATE, "--seed", 2]
    process = subprocess.Popen([sys.executable, "-c", EVALUATE_PAUSED_AFTER_FIRST_OUTPUT, *map(str, argv)], cwd=REPO,
                               env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=default_signals)
    assert process.stdout.readline() == "first output staged\n", process.communicate()
    staged = glob.glob(str(out / ".staging-*" / "*"))
    assert [os.path.basename(path) for path in staged] == ["config.json"]  # the other outputs still to write
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == status, err
    assert own_lines(err)[-1] == message and "Traceback" not in err
    assert snapshot(out) == before and sorted(os.listdir(out)) == sorted(os.path.relpath(p, out) for p in before)


def test_evaluate_replaces_every_output_and_keeps_other_files(tmp_path, untrained_checkpoint, cli, monkeypatch):
    import recurrent_sim.evaluation as evaluation

    reference = evaluate(cli, untrained_checkpoint, tmp_path / "reference", 2)
    out = tmp_path / "evaluation"
    before = evaluate(cli, untrained_checkpoint, out, 1)
    (out / "notes.txt").write_text("mine")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(evaluation, "write_rollout", interrupted)  # after config.json, metrics.csv, the curve
    code, _, err = cli("evaluate", "--loadtosim", untrained_checkpoint, "--out", out, *EVALUATE, "--seed", 2)
    gc.collect()
    assert code == 130 and err.splitlines()[-1] == "recurrent-sim evaluate: interrupted"
    assert snapshot(out) == {**before, str(out / "notes.txt"): b"mine"}
    monkeypatch.undo()

    after = evaluate(cli, untrained_checkpoint, out, 2)
    assert sorted(os.listdir(out)) == sorted(["notes.txt"] + [os.path.basename(p) for p in reference])
    for name in ("metrics.csv", "rollout.gif", "error_curve.png"):  # the seed-2 run's, not a mix
        assert after[str(out / name)] == reference[str(tmp_path / "reference" / name)]


# ----- 8: one rule for seeds ---------------------------------------------------------------------

BAD_SEEDS = ["-1", str(2**32), str(2**70)]


@pytest.mark.parametrize("seed", BAD_SEEDS)
@pytest.mark.parametrize("argv", [
    ["collect", "--env", BLOCKWORLD, "--frame-size", "32", "--out", "{tmp}/data"],
    ["train", "{data}", "--out", "{tmp}/run", *SMALL_TRAIN_FLAGS],
    ["evaluate", "--pretrained", "blockworld", "--out", "{tmp}/evaluation"],
    ["bench", "--quick", "--env", BLOCKWORLD],
    ["play", "--pretrained", "blockworld"],
])
def test_seeds_outside_0_to_2_to_the_32_are_refused_by_every_command(tmp_path, dataset, cli, argv, seed):
    argv = [a.format(tmp=tmp_path, data=dataset) for a in argv]
    before = snapshot(tmp_path)
    code, _, err = cli(*argv, "--seed", seed)
    assert code == 2
    assert one_error_line(err, argv[0]).startswith(
        f"recurrent-sim {argv[0]}: error: argument --seed: expected an integer in 0..{MAX_SEED}, got '{seed}'")
    assert snapshot(tmp_path) == before


def test_seeds_outside_the_range_are_refused_by_the_original_script(tmp_path, capsys):
    script = load_original_script()
    for seed in BAD_SEEDS:
        status, _, err = run_original_script(script, capsys, *SCRIPT_RUN, "--outdir", tmp_path / "out", "--seed", seed)
        assert status == 2 and "Traceback" not in err
        assert f": error: argument --seed: expected an integer in 0..{MAX_SEED}, got '{seed}'" in (
            err.strip().splitlines()[-1])  # (the program's name is pytest's in this process)
    assert os.listdir(tmp_path) == []


def test_the_largest_seed_works_everywhere(tmp_path, dataset, cli, capsys):
    code, _, err = cli("collect", "--env", BLOCKWORLD, "--frame-size", "32", "--episodes", 1, "--out",
                       tmp_path / "data", "--seed", MAX_SEED)
    assert code == 0, err
    code, _, err = cli("train", dataset, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS, "--updates", 1,
                       "--seed", MAX_SEED)
    assert code == 0, err
    # the evaluation game plays with --seed + 1, which wraps around to 0
    status, _, err = run_original_script(load_original_script(), capsys, *SCRIPT_RUN, "--outdir", tmp_path / "out",
                                         "--seed", MAX_SEED, "--eval-n-runs", 1, "--eval-interval", 100,
                                         "--max-episode-len", 20)
    assert status == 0, err


def test_a_bad_seed_is_one_line_through_the_real_command_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "recurrent_sim", "collect", "--out", str(tmp_path / "d"),
                             "--seed", "-1"], cwd=REPO, env=python_env(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2
    assert own_lines(result.stderr) == [
        f"recurrent-sim collect: error: argument --seed: expected an integer in 0..{MAX_SEED}, got '-1' "
        "(see recurrent-sim collect --help)"]


# ----- 9: folder names that are not UTF-8 --------------------------------------------------------

def test_folder_names_that_are_not_utf8_work(tmp_path, dataset):
    env = dict(python_env(), PYTHONIOENCODING="utf-8:strict")  # the standard output of a UTF-8 locale
    run, data = os.path.join(tmp_path, "bad\udcff\udcfe-run"), os.path.join(tmp_path, "bad\udcff-data")

    def cli(*argv):
        result = subprocess.run([sys.executable, "-m", "recurrent_sim", *map(str, argv)], cwd=REPO, env=env,
                                capture_output=True, timeout=600)
        assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
        return result.stdout

    out = cli("train", dataset, "--out", run, *SMALL_TRAIN_FLAGS, "--updates", 2)
    assert out.endswith(b"bad\xff\xfe-run/checkpoints/checkpoint_00000002.npz\n")  # the name's own bytes
    assert os.path.exists(os.path.join(run, "training_curve.png"))
    cli("train", "--out", run, "--resume", "--updates", 4)
    assert os.path.exists(os.path.join(run, "checkpoints", "checkpoint_00000004.npz"))
    cli("collect", "--env", BLOCKWORLD, "--frame-size", 32, "--episodes", 2, "--policy", "random", "--out", data)
    assert sorted(name for name in os.listdir(data) if name.startswith("episode_")) == [
        "episode_000000.npz", "episode_000001.npz"]
    cli("evaluate", "--loadtosim", run, "--out", os.path.join(run, "ev\udcff"), *EVALUATE)
    assert os.path.exists(os.path.join(run, "ev\udcff", "summary.json"))


# ----- 10: Ctrl-C while the modules load ---------------------------------------------------------

def loading(pid, library="_multiarray_umath"):
    """Whether process ``pid`` has mapped numpy's core library: it is loading the package's modules
    (numpy comes first, then gym, Chainer, ... for about a second), past Python's own start-up."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return library in f.read()
    except OSError:
        return False


@pytest.mark.parametrize("program", ["recurrent-sim", "original"])
def test_ctrl_c_while_the_modules_load_is_one_line(tmp_path, dataset, program):
    if program == "original":
        argv = [sys.executable, ORIGINAL_SCRIPT, *SCRIPT_RUN, "--outdir", str(tmp_path / "out")]
        expected = "train_a3c_gym.py: interrupted"
    else:
        argv = [sys.executable, "-m", "recurrent_sim", "train", dataset, "--out", str(tmp_path / "run")]
        expected = "recurrent-sim: interrupted"
    process = subprocess.Popen(argv, cwd=REPO, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, preexec_fn=default_signals)
    deadline = time.time() + 120
    while not loading(process.pid):
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.001)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 130, err
    assert own_lines(err) == [expected]
    assert os.listdir(tmp_path) == ["data"]


# ----- 11: a lock file the system refuses is a failure of the machine (status 1) ---------------

@pytest.mark.parametrize("number", [errno.ENOSPC, errno.EROFS])
def test_a_lock_file_the_disk_refuses_is_status_1(tmp_path, dataset, cli, monkeypatch, number):
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)) == ".lock":
            raise OSError(number, os.strerror(number), path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    code, _, err = cli("train", dataset, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS)
    monkeypatch.undo()
    assert code == 1
    assert one_error_line(err, "train") == (
        f"recurrent-sim train: error: --out {tmp_path / 'run'}: cannot lock it for writing ({os.strerror(number)})")
    assert not os.path.exists(tmp_path / "run")
