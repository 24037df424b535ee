"""`processes 2` of the original script: two games, each with its agent, train one simulator."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from recurrent_sim.training import load_checkpoint
from tests.helpers import python_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "mygym", "train_a3c_gym.py")
TWO_GAMES = ["2", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8",
             "--unroll_dep", "3", "--obs_dep", "2", "--pred_dep", "2", "--batch_size", "2",
             "--warm_up_steps", "40", "--training_steps", "10", "--saving_steps", "100",
             "--eval-n-runs", "0", "--logger-level", "30"]
RATES = re.compile(r"^(\d+) steps in \S+ s \(\S+ steps/s; per game: (\d+), (\d+)\), (\d+) simulator updates", re.M)


def run_script(*argv, timeout=300):
    result = subprocess.run([sys.executable, SCRIPT, *map(str, argv)], capture_output=True, text=True,
                            env=python_env(), cwd=ROOT, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def test_two_games_train_one_simulator_that_evaluate_loads(tmp_path, cli):
    savesim = tmp_path / "sim"
    code, out, err = run_script(*TWO_GAMES, "--steps", 300, "--savesim", savesim, "--outdir", tmp_path / "out")
    assert code == 0, err
    match = RATES.search(out)
    assert match, out
    steps, first, second, updates = map(int, match.groups())
    assert 300 <= steps <= 301 and first + second == steps
    assert min(first, second) >= 30  # both games' transitions reached the buffer (the OS shares the cores unevenly)
    assert updates >= 20  # one update every 10 steps of either game after the first 40
    checkpoint = load_checkpoint(str(savesim))
    assert checkpoint.metadata["settings"]["processes"] == 2 and checkpoint.metadata["updates"] > 0
    assert f"simulator saved in {savesim}" in out
    code, out, err = cli("evaluate", "--loadtosim", savesim, "--sequences", 2, "--horizon", 4, "--warmup", 3,
                         "--batch-size", 2, "--out", tmp_path / "evaluation")
    assert code == 0, err
    assert os.path.exists(tmp_path / "evaluation" / "summary.json")


@pytest.mark.slow
def test_two_learning_agents_and_sigterm(tmp_path):
    """A3C agents learn asynchronously (chainerrl saves the shared agent); SIGTERM stops every game,
    the simulator is saved and the agent too."""
    savesim, outdir = tmp_path / "sim", tmp_path / "out"
    code, out, err = run_script(*TWO_GAMES, "--agent", "a3c", "--steps", 200, "--savesim", savesim,
                                "--outdir", outdir)
    assert code == 0, err
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    assert sorted(os.listdir(os.path.join(run_dir, "200_finish"))) == ["agent.json", "model.npz", "optimizer.npz"]
    process = subprocess.Popen([sys.executable, SCRIPT, *TWO_GAMES, "--agent", "a3c", "--steps", str(10 ** 6),
                                "--savesim", str(tmp_path / "sim2"), "--outdir", str(outdir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=python_env(), cwd=ROOT)
    try:
        deadline = time.time() + 120
        while not os.path.exists(tmp_path / "sim2" / "simulator.npz"):
            assert time.time() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "SIGTERM received after" in err
    assert "simulator saved in" in out or "not saved" in out
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    assert any(name.endswith("_except") for name in os.listdir(run_dir))
    assert load_checkpoint(str(tmp_path / "sim2")).metadata["updates"] > 0
