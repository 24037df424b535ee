"""`mpiexec -n 2 recurrent-sim train` on BlockWorld through the real command line: data-parallel
training matches one process of the double batch, resumes with any number of ranks, stops every
rank at the same update.

Open MPI refuses to run as root unless OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
are set (as in CI's containers); --oversubscribe lets 2 ranks run on fewer cores.
"""
import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from recurrent_sim.cli import main
from recurrent_sim.training.checkpoint import list_checkpoints, load_checkpoint
from recurrent_sim.utils.locks import FolderLock
from tests.helpers import python_env

pytestmark = pytest.mark.skipif(shutil.which("mpiexec") is None, reason="needs mpiexec (Open MPI)")

RECURRENT_SIM = os.path.join(os.path.dirname(sys.executable), "recurrent-sim")
FLAGS = ["--hidden-size", "16", "--unroll-dep", "1", "--obs-dep", "2", "--pred-dep", "2",
         "--validation-fraction", "0.34", "--validation-sequences", "8", "--log-every", "1"]


def mpi_env(**changes):
    return dict(python_env(), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **changes)


def mpiexec(ranks, *argv):
    return ["mpiexec", "-n", str(ranks), "--oversubscribe", RECURRENT_SIM, *map(str, argv)]


def run(command, timeout=240):
    result = subprocess.run(command, env=mpi_env(), capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def new_run(data, out, *flags, ranks=2):
    """``mpiexec -n RANKS recurrent-sim train DATA --out OUT`` with the small settings and batch 2."""
    return run(mpiexec(ranks, "train", data, "--out", out, *FLAGS, "--batch-size", 2, *flags))


def train_rows(folder):
    with open(os.path.join(folder, "log.csv")) as f:
        return [row for row in csv.DictReader(f)]


def parameters(folder):
    return load_checkpoint(list_checkpoints(os.path.join(folder, "checkpoints"))[-1][1]).arrays


@pytest.fixture(scope="module")
def blockworld(tmp_path_factory):
    data = tmp_path_factory.mktemp("mpi") / "data"
    assert main(["collect", "--env", "BlockWorld-v0", "--frame-size", "32", "--out", str(data), "--episodes", "3",
                 "--max-episode-steps", "40", "--policy", "random"]) == 0
    return data


def test_two_ranks_of_batch_8_follow_one_process_of_batch_16(blockworld, tmp_path):
    two, one = tmp_path / "two", tmp_path / "one"
    code, out, err = run(mpiexec(2, "train", blockworld, "--out", two, *FLAGS, "--batch-size", 8,
                                 "--rank-batches", "split", "--updates", 4))
    assert code == 0, err
    assert out.count("trained to update 4") == 1  # rank 0 reports, rank 1 prints nothing
    code, _, err = run([RECURRENT_SIM, "train", str(blockworld), "--out", str(one), *FLAGS, "--batch-size", "16",
                        "--updates", "4"])
    assert code == 0, err
    rows_two, rows_one = train_rows(two), train_rows(one)
    assert [int(r["sequences_seen"]) for r in rows_two] == [16, 32, 48, 64]
    for name in ("train_error", "train_obs_mse", "train_pred_mse"):
        np.testing.assert_allclose([float(r[name]) for r in rows_two], [float(r[name]) for r in rows_one],
                                   rtol=1e-5)
    assert len({r["train_error"] for r in rows_one}) == 4  # the loss moved
    np.testing.assert_allclose(float(rows_two[-1]["validation_error"]), float(rows_one[-1]["validation_error"]),
                               rtol=1e-5)
    saved_two, saved_one = parameters(two), parameters(one)
    for name in saved_one:
        if name.startswith("model/"):
            np.testing.assert_allclose(saved_two[name], saved_one[name], rtol=1e-4, atol=1e-6, err_msg=name)
    # rank 0 alone wrote the run: one log, one TensorBoard file, the config says 2 ranks
    assert len([f for f in os.listdir(two) if f.startswith("events.out.tfevents")]) == 1
    assert '"ranks": 2' in open(two / "config.json").read()


def test_train_then_resume_with_two_ranks(blockworld, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = new_run(blockworld, out, "--updates", 2)
    assert code == 0 and "trained to update 2" in stdout, err
    code, stdout, err = run(mpiexec(2, "train", "--out", out, "--resume", "--updates", 4))
    assert code == 0 and stdout.count("trained to update 4") == 1, err
    rows = [r for r in train_rows(out) if r["train_error"]]
    assert [(int(r["update"]), int(r["sequences_seen"])) for r in rows] == [(1, 4), (2, 8), (3, 12), (4, 16)]
    metadata = load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1]).metadata
    assert metadata["updates"] == 4 and len(metadata["state"]["sampler"]["other_ranks"]) == 1


@pytest.mark.slow
def test_train_resume_with_two_then_one_then_three_ranks(blockworld, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = new_run(blockworld, out, "--updates", 4, "--checkpoint-every", 2)
    assert code == 0 and "trained to update 4" in stdout, err
    state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1][1]).metadata["state"]["sampler"]
    assert len(state["other_ranks"]) == 1  # rank 1's stream is saved beside rank 0's
    code, stdout, err = run([RECURRENT_SIM, "train", "--out", str(out), "--resume", "--updates", "6"])
    assert code == 0 and "trained to update 6" in stdout, err
    code, stdout, err = run(mpiexec(3, "train", "--out", out, "--resume", "--updates", 8))
    assert code == 0 and "trained to update 8" in stdout, err
    assert "saved by 1 rank(s), it goes on with 3" in err
    rows = train_rows(out)
    assert [int(r["update"]) for r in rows if r["train_error"]] == list(range(1, 9))
    assert [int(r["sequences_seen"]) for r in rows if r["train_error"]][3:] == [16, 18, 20, 26, 32]
    code, stdout, err = run([RECURRENT_SIM, "evaluate", "--loadtosim", str(out), "--sequences", "2", "--horizon",
                             "3", "--warmup", "2", "--batch-size", "2", "--out", str(tmp_path / "evaluation")])
    assert code == 0, err


@pytest.mark.slow
def test_resume_with_the_same_ranks_is_exact(blockworld, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    code, _, err = new_run(blockworld, straight, "--updates", 4)
    assert code == 0, err
    code, _, err = new_run(blockworld, resumed, "--updates", 2)
    assert code == 0, err
    code, _, err = run(mpiexec(2, "train", "--out", resumed, "--resume", "--updates", 4))
    assert code == 0, err
    assert [r["train_error"] for r in train_rows(resumed)] == [r["train_error"] for r in train_rows(straight)]


def _rank_pid(parent, rank):
    """Process id of MPI rank ``rank`` started by the mpiexec process ``parent``."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
        except OSError:
            continue
        if ppid == parent and f"OMPI_COMM_WORLD_RANK={rank}".encode() in environ:
            return int(pid)
    return None


@pytest.mark.slow
def test_a_signal_to_one_rank_stops_every_rank_at_the_same_update(blockworld, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(mpiexec(2, "train", blockworld, "--out", out, *FLAGS, "--batch-size", 2,
                                       "--updates", 100000, "--checkpoint-every", 100000),
                               env=mpi_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not os.path.exists(out / "log.csv") or len(train_rows(out)) < 3:
            assert time.time() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.2)
        os.kill(_rank_pid(process.pid, 1), signal.SIGTERM)  # rank 1 only; rank 0 saves for both
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert "SIGTERM received: stopped at update" in stdout, stderr
    updates = int(stdout.split("stopped at update ")[1].split(";")[0])
    number, path = list_checkpoints(out / "checkpoints")[-1]
    assert number == updates == load_checkpoint(path).metadata["updates"]
    code, stdout, err = run(mpiexec(2, "train", "--out", out, "--resume", "--updates", updates + 2))
    assert code == 0 and f"trained to update {updates + 2}" in stdout, err


@pytest.mark.slow
def test_time_budget_stops_every_rank(blockworld, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = new_run(blockworld, out, "--updates", 100000, "--max-minutes", 0.02)
    assert code == 0 and "time budget spent" in stdout, err
    assert list_checkpoints(out / "checkpoints")


def test_a_set_up_error_of_rank_0_stops_every_rank_in_one_line(blockworld, tmp_path):
    out = tmp_path / "run"
    with FolderLock(out):  # rank 0 cannot lock --out; rank 1 must not go on alone
        code, stdout, err = run(mpiexec(2, "train", blockworld, "--out", out, *FLAGS, "--updates", 2))
    assert code == 2
    assert [line for line in err.splitlines() if "error:" in line] == [
        f"recurrent-sim train: error: --out {out} is being written by another process (pid {os.getpid()}"
    ] or sum("error:" in line for line in err.splitlines()) == 1, err
    assert not os.path.exists(out / "checkpoints")
