"""The run folder convention: config.json, log.csv, TensorBoard events and training_curve.png."""
import csv
import glob
import json
import os
import struct

import imageio
import pytest

from tests.helpers import BLOCKWORLD, REPO


def read_events(folder):
    """(tag, step, value) of every scalar in the TensorBoard event files of ``folder``."""
    from tensorboardX.proto import event_pb2

    scalars = []
    for path in sorted(glob.glob(os.path.join(folder, "events.out.tfevents.*"))):
        with open(path, "rb") as f:
            data = f.read()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset: offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12: offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                scalars.append((value.tag, event.step, value.simple_value))
    return scalars


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_config(folder, **settings):
    config = json.load(open(os.path.join(folder, "config.json")))
    for name, value in settings.items():
        assert config["settings"][name] == value, name
    assert config["packages"]["chainer"] == "7.8.1" and config["packages"]["tensorboardX"]
    if os.path.isdir(os.path.join(REPO, ".git")) or os.path.isfile(os.path.join(REPO, ".git")):
        assert len(config["git_commit"]) == 40
    return config


def test_train_on_blockworld_writes_the_run_folder(tmp_path, cli):
    code, out, err = cli("collect", "--env", BLOCKWORLD, "--frame-size", 32, "--episodes", 4, "--policy", "random",
                         "--out", tmp_path / "data")
    assert code == 0, err
    check_config(tmp_path / "data", episodes=4, policy="random", env=BLOCKWORLD)
    episodes = read_csv(tmp_path / "data" / "log.csv")
    manifest = json.load(open(tmp_path / "data" / "manifest.json"))
    assert [float(row["episode_return"]) for row in episodes] == [e["episode_return"] for e in manifest["episodes"]]

    run = tmp_path / "run"
    code, out, err = cli("train", tmp_path / "data", "--out", run, "--hidden-size", 8, "--batch-size", 2,
                         "--unroll-dep", 1, "--obs-dep", 1, "--pred-dep", 1, "--updates", 6, "--log-every", 2,
                         "--checkpoint-every", 3, "--validation-fraction", 0.25, "--validation-sequences", 4)
    assert code == 0, err
    assert {"config.json", "log.csv", "training_curve.png"} <= set(os.listdir(run))
    config = check_config(run, hidden_size=8, batch_size=2, updates=6, architecture="skip", loss="sequence_mse",
                          sequence={"unroll_dep": 1, "obs_dep": 1, "pred_dep": 1})
    assert config["settings"]["simulator"]["frame_shape"] == [32, 32]
    rows = read_csv(run / "log.csv")
    events = read_events(run)
    assert events, "no TensorBoard event file"
    for row in rows:
        for field in ("train_error", "validation_error"):
            if row[field]:
                assert (field, int(row["update"]), pytest.approx(float(row[field]), rel=1e-6)) in events
    assert {tag for tag, _, _ in events} >= {"train_error", "train_obs_mse", "validation_error"}
    curve = imageio.v2.imread(run / "training_curve.png")
    assert curve.shape[:2] == (500, 800)

    code, out, err = cli("train", "--out", run, "--resume", "--updates", 8)  # a resume logs on
    assert code == 0, err
    assert [int(r["update"]) for r in read_csv(run / "log.csv") if r["train_error"]] == [2, 4, 6, 8]
    assert max(step for tag, step, _ in read_events(run) if tag == "train_error") == 8


def test_evaluate_writes_its_config(tmp_path, cli, untrained_checkpoint):
    code, out, err = cli("evaluate", "--loadtosim", untrained_checkpoint, "--env", BLOCKWORLD, "--sequences", 2,
                         "--warmup", 2, "--horizon", 3, "--batch-size", 2, "--out", tmp_path / "ev")
    assert code == 0, err
    check_config(tmp_path / "ev", sequences=2, horizon=3, loadtosim=str(untrained_checkpoint))
