"""Random flag values for every command (hypothesis): each run ends with exit 0, or with one error
line, no traceback and nothing changed on disk. Tiny sizes on BlockWorld-v0 keep runs short; the
slow variant tries many more combinations."""
import importlib.util
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recurrent_sim.cli import main
from tests.helpers import REPO, SMALL_TRAIN_FLAGS, write_dataset

BAD = ["nan", "inf", "-inf", "-1", "0", "", "abc", "1e400", "0.5", "-0.0"]
# Sizes that cannot fit in memory, tried on the flags named in ABSURD_FLAGS (counts of steps or
# episodes are left out: a huge one is a valid, endless, run).
ABSURD = ["100000", "1e12"]
ABSURD_FLAGS = {"--frame-size", "--hidden-size", "--batch-size", "--num_output_channels_sim", "--batch_size",
                "--buffer_size_sim"}
SCRIPT = os.path.join(REPO, "examples", "mygym", "train_a3c_gym.py")


def flag_values(**valid):
    """A strategy of {flag: value or None (left out)}: each flag valid, bad, or absent."""
    return st.fixed_dictionaries({
        flag: st.one_of(st.none(), st.sampled_from([str(v) for v in values]),
                        st.sampled_from(BAD + (ABSURD if flag in ABSURD_FLAGS else [])))
        for flag, values in valid.items()
    })


COMMANDS = {
    # Each base command line is a tiny, quick run; the random flags given after it override it.
    "collect": (["--policy", "random", "--out", "{tmp}/data", "--env", "BlockWorld-v0", "--frame-size", "16",
                 "--episodes", "1", "--max-episode-steps", "5"], flag_values(**{
        "--env": ["BlockWorld-v0", "CartPole-v0", "Breakot-v0"], "--frame-size": [16, 32], "--episodes": [1, 2],
        "--max-episode-steps": [3, 8], "--frame-buffer-length": [1, 4], "--seed": [0, 3]})),
    "train": (["{data}", "--out", "{tmp}/run", "--validation-fraction", "0.25", *SMALL_TRAIN_FLAGS, "--updates", "2",
               "--checkpoint-every", "1"], flag_values(**{
        "--hidden-size": [8, 16], "--batch-size": [1, 2], "--unroll-dep": [0, 1], "--obs-dep": [0, 1],
        "--pred-dep": [1, 2], "--lr": [1e-4, 1e-3], "--grad-clip": [0, 10], "--updates": [1, 2],
        "--checkpoint-every": [1, 2], "--keep-checkpoints": [1, 2], "--validation-sequences": [1, 4],
        "--optimizer": ["adam", "rmsprop_graves"]})),
    "evaluate": (["--loadtosim", "{run}", "--out", "{tmp}/evaluation", "--warmup", "1", "--horizon", "2",
                  "--sequences", "1", "--batch-size", "1", "--max-gap", "0"], flag_values(**{
        "--env": ["BlockWorld-v0", "Pong-v0"], "--warmup": [1, 2], "--horizon": [1, 3], "--sequences": [1, 2],
        "--batch-size": [1, 2], "--threshold": [0.5], "--fps": [5], "--max-gap": [0, 2],
        "--frame-buffer-length": [2], "--object-level": [0, 30], "--object-distance": [0, 2.5]})),
    "bench": (["--quick", "--reference-repeats", "0", "--env-steps", "5"], flag_values(**{
        "--env": ["BlockWorld-v0"], "--frame-size": [16, 32], "--out": ["{tmp}/bench.json", "{tmp}"]})),
    "dyna": (["--out", "{tmp}/dyna", "--rounds", "1", "--env", "BlockWorld-v1", "--episodes-per-round", "2",
              "--max-episode-steps", "12", "--sim-updates", "1", "--hidden-size", "8", "--batch-size", "2",
              "--unroll-dep", "2", "--obs-dep", "1", "--pred-dep", "1", "--validation-fraction", "0.5",
              "--agent-steps", "5", "--sim-episode-len", "3", "--score-episodes", "1"], flag_values(**{
        "--rounds": [1], "--frame-size": [24, 32], "--episodes-per-round": [2, 3], "--sim-updates": [1, 2],
        "--agent-steps": [3, 6], "--score-episodes": [1, 2], "--sim-reward": ["class", "expected"],
        "--sim-warmup": [1, 2], "--agent-lr": [1e-4], "--reward-scale-factor": [0.5]})),
    "original": (["1", "--env", "BlockWorld-v0", "--eval-n-runs", "0", "--logger-level", "40",
                  "--outdir", "{tmp}/out", "--savesim", "{tmp}/sim", "--frame-size", "24", "--num_output_channels_sim",
                  "8", "--batch_size", "2", "--steps", "20", "--warm_up_steps", "5", "--training_steps", "5",
                  "--saving_steps", "10", "--buffer_size_sim", "50", "--unroll_dep", "1", "--obs_dep", "1",
                  "--pred_dep", "1", "--max-episode-len", "30"], flag_values(**{
        "--frame-size": [16, 24], "--num_output_channels_sim": [8], "--batch_size": [1, 2], "--steps": [20, 40],
        "--warm_up_steps": [0, 10], "--training_steps": [5], "--saving_steps": [10], "--buffer_size_sim": [30, 100],
        "--unroll_dep": [1], "--obs_dep": [1], "--pred_dep": [1], "--lr-sim": [1e-3], "--lr": [1e-4],
        "--agent": ["acting", "a3c"], "--t-max": [3], "--beta": [0.01], "--min_reward": [-1],
        "--reward-scale-factor": [1], "--frame-buffer-length": [2, 4]})),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A small dataset and a trained run, read (never written) by the commands under test."""
    root = tmp_path_factory.mktemp("shared")
    data = write_dataset(root / "data", [12, 12, 12, 12])
    assert main(["--log-level", "ERROR", "train", data, "--out", str(root / "run"), *SMALL_TRAIN_FLAGS,
                 "--updates", "2"]) == 0
    return {"data": data, "run": str(root / "run"), "root": str(root)}


@pytest.fixture(scope="module")
def original_script():
    spec = importlib.util.spec_from_file_location("train_a3c_gym_random_flags", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def snapshot(*roots):
    files = {}
    for root in roots:
        for folder, subfolders, names in os.walk(root):
            files[folder] = None
            for name in names:
                path = os.path.join(folder, name)
                with open(path, "rb") as f:
                    files[path] = f.read()
    return files


def check_one_run(command, values, shared, original_script, capsys):
    base, _ = COMMANDS[command]
    tmp = tempfile.mkdtemp(prefix="flags-")
    cwd = os.getcwd()
    os.chdir(tmp)  # a relative path among the random values (e.g. --out -0.0) lands in tmp, not the checkout
    try:
        fill = dict(shared, tmp=tmp)
        argv = [a.format(**fill) for a in base]
        for flag, value in values.items():
            if value is not None:
                argv += [flag, value.format(**fill)]
        before = snapshot(tmp, shared["root"])
        if command == "original":
            code = original_script.main(argv)
        else:
            code = main(["--log-level", "ERROR", command, *argv])
        err = capsys.readouterr().err
        assert "Traceback" not in err, err
        if code == 0:
            return
        lines = [line for line in err.splitlines() if ": error: " in line]
        assert code in (1, 2) and len(lines) == 1, (argv, code, err)
        assert snapshot(tmp, shared["root"]) == before, (argv, lines[0])
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def _test(command, examples):
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(values=COMMANDS[command][1])
    def test(shared, original_script, capsys, values):
        check_one_run(command, values, shared, original_script, capsys)

    return test


# Few examples by default (the suite stays fast); the slow variant runs many.
test_collect_random_flags = _test("collect", 6)
test_train_random_flags = _test("train", 6)
test_evaluate_random_flags = _test("evaluate", 4)
test_bench_random_flags = _test("bench", 3)
test_dyna_random_flags = _test("dyna", 3)
test_original_script_random_flags = _test("original", 6)

test_collect_random_flags_many = pytest.mark.slow(_test("collect", 60))
test_train_random_flags_many = pytest.mark.slow(_test("train", 60))
test_evaluate_random_flags_many = pytest.mark.slow(_test("evaluate", 40))
test_bench_random_flags_many = pytest.mark.slow(_test("bench", 20))
test_original_script_random_flags_many = pytest.mark.slow(_test("original", 60))
