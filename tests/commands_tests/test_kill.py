"""Processes killed with SIGKILL, SIGINT and SIGTERM lose nothing and resume exactly."""
import csv
import json
import os
import signal
import time

import numpy as np
import pytest

from recurrent_sim.data.episodes import load_dataset, read_manifest
from recurrent_sim.training.checkpoint import list_checkpoints, load_checkpoint
from recurrent_sim.utils.signals import StopRequest
from tests.helpers import SMALL_TRAIN_FLAGS, own_lines, start_cli

FLAGS = SMALL_TRAIN_FLAGS + ["--checkpoint-every", "1", "--keep-checkpoints", "3", "--log-every", "1",
                             "--validate-every", "4"]


def wait_for(condition, process, timeout=120.0, interval=0.002):
    """Poll ``condition()`` until true; fails if ``process`` ends first or time runs out."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        if process.poll() is not None:
            return False
        time.sleep(interval)
    process.kill()
    raise AssertionError("timed out")


def log_rows(run):
    path = os.path.join(run, "log.csv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [row for row in csv.DictReader(f) if row.get("elapsed_seconds")]  # complete lines only


def train_curve(run):
    return [(row["update"], row["train_error"]) for row in log_rows(run) if row["train_error"]]


def validation_curve(run):
    return [(row["update"], row["validation_error"]) for row in log_rows(run) if row["validation_error"]]


def finish(*argv, timeout=300):
    process = start_cli(*argv)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


def assert_all_checkpoints_load(run):
    checkpoints = list_checkpoints(os.path.join(run, "checkpoints"))
    for _, path in checkpoints:
        load_checkpoint(path).build_simulator()
    return checkpoints


def same_parameters(path_a, path_b):
    a, b = load_checkpoint(path_a).arrays, load_checkpoint(path_b).arrays
    keys = [k for k in a if k.startswith(("model/", "optimizer/"))]
    return sorted(keys) == sorted(k for k in b if k.startswith(("model/", "optimizer/"))) and all(
        np.array_equal(a[k], b[k]) for k in keys)


def kill_and_check(tmp_path, dataset, updates, kills):
    """Train with ``kills`` SIGKILLs, resume to the end, compare with an uninterrupted run."""
    reference, run = str(tmp_path / "reference"), str(tmp_path / "run")
    finish("train", dataset, "--out", reference, *FLAGS, "--updates", updates)
    rng = np.random.default_rng(len(kills))
    caught_mid_write = 0
    for kill in kills:
        resume = ["--resume"] if list_checkpoints(os.path.join(run, "checkpoints")) else []
        process = start_cli("train", dataset, "--out", run, *FLAGS, "--updates", updates, *resume)
        if kill == "during-write":  # as soon as the next checkpoint file is created
            folder = os.path.join(run, "checkpoints")
            names = set(os.listdir(folder)) if os.path.isdir(folder) else set()
            if wait_for(lambda: os.path.isdir(folder) and set(os.listdir(folder)) - names, process, interval=0.0):
                process.send_signal(signal.SIGKILL)
        else:
            done_before = len(log_rows(run))
            if wait_for(lambda: len(log_rows(run)) > done_before + 1, process):
                time.sleep(rng.uniform(0, 0.3))
                process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        folder = os.path.join(run, "checkpoints")
        caught_mid_write += any(n.endswith(".tmp") for n in os.listdir(folder))
        assert assert_all_checkpoints_load(run)  # every checkpoint that exists loads
    finish("train", "--out", run, "--resume")
    assert not [n for n in os.listdir(os.path.join(run, "checkpoints")) if n.endswith((".tmp", ".damaged"))]
    assert train_curve(run) == train_curve(reference)
    assert len(train_curve(run)) == updates
    assert same_parameters(os.path.join(run, "checkpoints", f"checkpoint_{updates:08d}.npz"),
                           os.path.join(reference, "checkpoints", f"checkpoint_{updates:08d}.npz"))
    assert set(validation_curve(reference)) <= set(validation_curve(run))
    return caught_mid_write


def test_sigkill_during_training_and_checkpoint_writes_then_exact_resume(tmp_path, dataset):
    caught = kill_and_check(tmp_path, dataset, updates=10, kills=["random", "during-write"])
    assert caught >= 1  # the second kill landed while a checkpoint was being written


@pytest.mark.slow
def test_many_sigkills_then_exact_resume(tmp_path, dataset):
    kills = ["random", "during-write"] * 5
    kill_and_check(tmp_path, dataset, updates=60, kills=kills)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_a_final_checkpoint_and_exits_cleanly(tmp_path, dataset, signum, code):
    run = str(tmp_path / "run")
    process = start_cli("train", dataset, "--out", run, *SMALL_TRAIN_FLAGS, "--updates", 100000,
                        "--checkpoint-every", 1000, "--log-every", 1)
    assert wait_for(lambda: len(log_rows(run)) >= 2, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert "Traceback" not in err
    name = signal.Signals(signum).name
    line = [line for line in own_lines(out) if line.startswith(f"{name} received: stopped at update ")]
    assert len(line) == 1 and "continue with --resume" in line[0]
    updates = int(line[0].split("stopped at update ")[1].split(";")[0])
    checkpoints = assert_all_checkpoints_load(run)
    assert [n for n, _ in checkpoints] == [updates]
    state = load_checkpoint(checkpoints[0][1]).metadata["state"]
    assert state["updates"] == updates and int(log_rows(run)[-1]["update"]) == updates
    assert json.load(open(os.path.join(run, "log.json")))["rows"][-1]["update"] == updates


def test_stop_request_records_the_first_signal_and_forces_on_the_second():
    previous = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        assert not stop.requested and stop.exit_code == 0
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert stop.requested and stop.name == "SIGTERM" and stop.exit_code == 143
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) is previous


def test_sigkilled_collection_resumes_without_loss_or_duplicates(tmp_path, cli):
    flags = ["--env", "BlockWorld-v0", "--frame-size", "32", "--policy", "random", "--seed", "5"]
    data = str(tmp_path / "killed")
    process = start_cli("collect", *flags, "--out", data, "--episodes", 100000)
    manifest_path = os.path.join(data, "manifest.json")
    assert wait_for(lambda: os.path.exists(manifest_path) and len(read_manifest(data)["episodes"]) >= 3, process)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    recorded = len(read_manifest(data)["episodes"])
    finish("collect", *flags, "--out", data, "--episodes", recorded + 2)
    code, _, _ = cli("collect", *flags, "--out", tmp_path / "whole", "--episodes", recorded + 2)
    assert code == 0
    killed, whole = load_dataset(data), load_dataset(tmp_path / "whole")
    assert [e["file"] for e in killed[0]["episodes"]] == [e["file"] for e in whole[0]["episodes"]]
    assert killed[0]["total_steps"] == whole[0]["total_steps"]
    for a, b in zip(killed[1], whole[1]):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
    assert not [n for n in os.listdir(data) if n.endswith((".tmp", ".damaged"))]
