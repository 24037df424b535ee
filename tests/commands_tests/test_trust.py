"""What the commands never do: write or load non-finite values, let two writers share a folder,
print a traceback for a full or read-only disk, absurd sizes, games without image frames, or
unreadable episodes. Each case: one line, a non-zero exit, files unchanged."""
import csv
import errno
import os
import re
import subprocess
import time

import numpy as np
import pytest

from recurrent_sim.training import save_checkpoint
from recurrent_sim.training.checkpoint import list_checkpoints
from recurrent_sim.utils.locks import LOCK_FILENAME
from tests.helpers import SMALL_TRAIN_FLAGS, small_simulator, start_cli, write_dataset

BLOCKWORLD = ["--env", "BlockWorld-v0", "--frame-size", "32"]


def snapshot(root):
    """{path: bytes} of every file under ``root``."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[path] = f.read()
    return files


def one_error_line(err, command):
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and lines[0].startswith(f"recurrent-sim {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def poison(path, name=None):
    """Rewrite the .npz ``path`` with a NaN in array ``name`` (the first float weight by default)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    name = name or next(k for k, v in sorted(arrays.items()) if k.startswith("model/") and v.dtype.kind == "f")
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = np.nan
    np.savez(path, **arrays)
    return name


@pytest.fixture
def trained(tmp_path, dataset, cli):
    run = tmp_path / "run"
    code, out, err = cli("train", dataset, "--out", run, *SMALL_TRAIN_FLAGS, "--updates", 4, "--checkpoint-every", 2)
    assert code == 0, err
    return run


# ----- one writer per folder --------------------------------------------------------------

def test_resume_while_another_train_writes_is_refused_and_the_first_finishes_cleanly(tmp_path, dataset, cli):
    run = tmp_path / "run"
    first = start_cli("train", dataset, "--out", run, *SMALL_TRAIN_FLAGS, "--updates", 60, "--checkpoint-every", 10,
                      "--log-every", 1)
    deadline = time.time() + 120
    while not (run / "log.csv").exists() or len((run / "log.csv").read_text().splitlines()) < 3:
        assert first.poll() is None and time.time() < deadline, first.communicate()
        time.sleep(0.01)
    code, out, err = cli("train", "--out", run, "--resume", "--updates", 100)
    line = one_error_line(err, "train")
    assert code == 2
    assert f"--out {run} is being written by process {first.pid} (" in line
    assert line.endswith("wait for it to end or choose another folder")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "trained to update 60" in out
    with open(run / "log.csv") as f:
        updates = [int(row["update"]) for row in csv.DictReader(f) if row["train_error"]]
    assert updates == list(range(1, 61))  # no duplicated or missing row
    assert [n for n, _ in list_checkpoints(run / "checkpoints")][-1] == 60
    assert not (run / LOCK_FILENAME).exists()


def test_collect_into_a_folder_another_collect_writes_is_refused(tmp_path, cli):
    data = tmp_path / "data"
    first = start_cli("collect", *BLOCKWORLD, "--out", data, "--episodes", 100000, "--policy", "random")
    deadline = time.time() + 120
    while not (data / "manifest.json").exists():
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.01)
    code, _, err = cli("collect", *BLOCKWORLD, "--out", data, "--episodes", 3)
    first.terminate()
    first.communicate(timeout=60)
    assert code == 2 and f"--out {data} is being written by process {first.pid}" in one_error_line(err, "collect")


# ----- nothing non-finite is loaded -------------------------------------------------------

def test_nan_weights_on_disk_are_refused_by_every_loader(tmp_path, trained, dataset, cli):
    name = poison(trained / "simulator.npz")
    before = snapshot(tmp_path)
    expected = rf"checkpoint .*simulator.npz holds NaN or infinite values \({name}\); it is damaged and was not loaded"
    for argv in (["evaluate", "--loadtosim", trained, "--out", tmp_path / "evaluation", "--sequences", 2],
                 ["train", dataset, "--out", tmp_path / "run2", "--loadtosim", trained, *SMALL_TRAIN_FLAGS]):
        code, _, err = cli(*argv)
        assert code == 2
        assert re.search(expected, one_error_line(err, argv[0]))
    assert snapshot(tmp_path) == before


def test_resume_sets_a_nan_checkpoint_aside_and_refuses_when_none_is_left(trained, cli):
    for _, path in list_checkpoints(trained / "checkpoints"):
        poison(path)
    code, _, err = cli("train", "--out", trained, "--resume", "--updates", 8)
    assert code == 2 and "none of the 2 checkpoint(s)" in one_error_line(err, "train")
    assert all(name.endswith(".damaged") for name in os.listdir(trained / "checkpoints"))


def test_agent_with_nan_weights_is_refused(tmp_path, cli):
    from recurrent_sim.agents import make_acting_agent

    make_acting_agent(5, (4, 32, 32)).save(tmp_path / "agent")
    poison(tmp_path / "agent" / "model.npz", "conv1/W")
    code, _, err = cli("collect", *BLOCKWORLD, "--out", tmp_path / "data", "--load", tmp_path / "agent")
    assert code == 2 and "holds NaN or infinite values (conv1/W)" in one_error_line(err, "collect")
    assert not (tmp_path / "data").exists()


# ----- nothing non-finite is written ------------------------------------------------------

def test_nonfinite_weights_are_never_saved(tmp_path):
    from recurrent_sim.utils.finite import NonFiniteError

    simulator = small_simulator()
    path = save_checkpoint(tmp_path / "sim", simulator)
    before = open(path, "rb").read()
    simulator.decoder.fc.b.array[0] = np.inf
    with pytest.raises(NonFiniteError, match=r"decoder/fc/b hold NaN or infinite values; try a lower --lr"):
        save_checkpoint(tmp_path / "sim", simulator, cause="try a lower --lr")
    assert open(path, "rb").read() == before and os.listdir(tmp_path / "sim") == ["simulator.npz"]


def test_nan_learning_rate_is_refused_at_parse_time(tmp_path, dataset, cli):
    for value in ("nan", "inf", "-1", "0"):
        code, _, err = cli("train", dataset, "--out", tmp_path / "run", "--lr", value)
        assert code == 2 and f"argument --lr: expected a positive finite number, got '{value}'" in err
    assert not (tmp_path / "run").exists()


# ----- failures of the machine --------------------------------------------------------------

def test_disk_full_during_training_is_one_line_and_keeps_the_checkpoints(trained, dataset, cli, monkeypatch):
    before = snapshot(trained / "checkpoints")
    real_savez = np.savez

    def full_disk(f, **arrays):
        f.write(b"x" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full_disk)
    code, out, err = cli("train", "--out", trained, "--resume", "--updates", 6)
    monkeypatch.setattr(np, "savez", real_savez)
    assert code == 1
    line = one_error_line(err, "train")
    assert line.startswith(f"recurrent-sim train: error: cannot write {trained}/")
    assert line.endswith(".npz: No space left on device (free some space or write elsewhere)")
    assert snapshot(trained / "checkpoints") == before  # no temporary left, old checkpoints intact
    code, out, err = cli("train", "--out", trained, "--resume", "--updates", 6)
    assert code == 0 and "trained to update 6" in out


@pytest.fixture
def read_only_folder(tmp_path):
    """A read-only file system (a tmpfs mounted read-only); skipped where mounting is not allowed."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_read_only_output_is_one_line(read_only_folder, dataset, cli):
    code, _, err = cli("train", dataset, "--out", read_only_folder / "run", *SMALL_TRAIN_FLAGS)
    assert code == 1
    assert "cannot lock it for writing (Read-only file system)" in one_error_line(err, "train")


def test_injected_read_only_output_is_one_line(tmp_path, dataset, cli, monkeypatch):
    real_makedirs = os.makedirs

    def read_only(path, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, "makedirs", read_only)
    code, _, err = cli("collect", *BLOCKWORLD, "--out", tmp_path / "data")
    monkeypatch.setattr(os, "makedirs", real_makedirs)
    assert code == 1 and "cannot lock it for writing (Read-only file system)" in one_error_line(err, "collect")


# ----- sizes, games, datasets --------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["train", "{data}", "--out", "{tmp}/d", "--hidden-size", "10000000"],
     r"the simulator \(32x32 frames, 10000000 LSTM units, batch 16 x \d+ steps\) needs about .* PiB of memory, "
     r"but .* is available; lower --hidden-size or --batch-size"),
    (["collect", "--env", "BlockWorld-v0", "--frame-size", "100000", "--out", "{tmp}/d"],
     r"the agent and frames \(--frame-size 100000x100000, .*\) needs about .* TiB of memory, but .* is available"),
    (["evaluate", "--loadtosim", "{run}", "--sequences", "100000000", "--out", "{tmp}/e"],
     r"100000000 recorded sequences of 111 frames needs about .* of memory"),
    (["bench", "--env", "BlockWorld-v0", "--frame-size", "32", "--hidden-size", "15000", "--batch-size", "100000"],
     r"the simulator .* needs about .* of memory"),
    (["collect", "--env", "CartPole-v0", "--out", "{tmp}/d"],
     r"CartPole-v0 has no image frames \(a classic control game: its observations are numbers\); the simulator "
     r"needs image frames"),
    (["evaluate", "--loadtosim", "{run}", "--env", "CartPole-v0", "--out", "{tmp}/e"], r"CartPole-v0 has no image"),
    (["bench", "--env", "MountainCar-v0", "--quick"], r"MountainCar-v0 has no image frames"),
    (["collect", "--env", "", "--out", "{tmp}/d"], r"argument --env: expected the gym id of a game"),
    (["evaluate", "--loadtosim", "{run}", "--env", "", "--out", "{tmp}/e"], r"argument --env: expected the gym id"),
    (["bench", "--env", " ", "--quick"], r"argument --env: expected the gym id"),
])
def test_absurd_sizes_games_without_frames_and_empty_ids(tmp_path, trained, dataset, cli, argv, message):
    argv = [a.format(data=dataset, tmp=tmp_path, run=trained) for a in argv]
    before = snapshot(tmp_path)
    code, _, err = cli(*argv)
    assert code == 2 and re.search(message, one_error_line(err, argv[0])), err
    assert snapshot(tmp_path) == before
    assert not any(os.path.exists(tmp_path / name) for name in ("d", "e"))


def test_collect_names_unreadable_episodes_before_adding(tmp_path, cli):
    data = write_dataset(tmp_path / "data", [5, 5, 5, 5])
    for name in ("episode_000001.npz", "episode_000003.npz"):
        with open(os.path.join(data, name), "r+b") as f:
            f.truncate(50)
    before = snapshot(tmp_path)
    code, _, err = cli("collect", *BLOCKWORLD, "--out", data, "--episodes", 6)
    assert code == 2
    assert one_error_line(err, "collect") == (
        f"recurrent-sim collect: error: --out {data} holds 2 unreadable episode file(s) (truncated, corrupted or "
        "not as manifest.json says): episode_000001.npz, episode_000003.npz; delete them and their entries in "
        "manifest.json, or collect into a new folder")
    assert snapshot(tmp_path) == before
