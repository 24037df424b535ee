"""The collect and train commands end to end, and every bad input they refuse."""
import csv
import json
import os
import re
import shutil

import numpy as np
import pytest

from recurrent_sim.data.episodes import load_dataset
from recurrent_sim.training.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from tests.helpers import SMALL_TRAIN_FLAGS, make_episode, own_lines, start_cli, write_dataset


def test_collect_train_resume_evaluate(tmp_path, cli):
    data, run = tmp_path / "data", tmp_path / "run"
    code, out, err = cli("collect", "--env", "BlockWorld-v0", "--frame-size", 32, "--out", data, "--episodes", 2,
                         "--policy", "random")
    assert code == 0 and "2 episodes, 200 steps" in out and "collecting" in err
    code, out, _ = cli("collect", "--env", "BlockWorld-v0", "--frame-size", 32, "--out", data, "--episodes", 3,
                       "--max-episode-steps", 30)  # continued with the non-learning agent
    assert code == 0 and "3 episodes, 230 steps" in out
    manifest, episodes = load_dataset(data)
    assert [e["policy"] for e in manifest["episodes"]] == ["random", "random", "agent:untrained"]
    assert [e["terminal"] for e in manifest["episodes"]] == [True, True, False]
    assert len(episodes[2].frames) == 31 and episodes[2].frames.dtype == np.uint8

    code, out, err = cli("train", data, "--out", run, *SMALL_TRAIN_FLAGS, "--validation-fraction", "0.34",
                         "--updates", 3, "--checkpoint-every", 2, "--log-every", 1)
    assert code == 0 and "trained to update 3" in out
    assert "training" in err and "error=" in err and "frames_per_s=" in err  # the progress bar
    code, out, _ = cli("train", "--out", run, "--resume", "--updates", 5)
    assert code == 0 and "trained to update 5" in out
    with open(run / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["update"]) for r in rows if r["train_error"]] == [1, 2, 3, 4, 5]
    assert load_checkpoint(run).metadata["env_id"] == "BlockWorld-v0"
    code, out, err = cli("train", "--out", run, "--resume", "--updates", 5)
    assert code == 0 and "trained to update 5" in out  # nothing left to do

    code, out, err = cli("evaluate", "--loadtosim", run, "--sequences", 2, "--horizon", 4, "--warmup", 3,
                         "--batch-size", 2, "--out", tmp_path / "evaluation")
    assert code == 0, err
    assert json.load(open(tmp_path / "evaluation" / "summary.json"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A dataset, a finished run on it, and an 84x84 / 4-action simulator."""
    from recurrent_sim.models import Simulator, SimulatorConfig
    from recurrent_sim.training.offline import OfflineTrainer
    from recurrent_sim.data.episodes import EpisodeDataset
    from tests.helpers import small_options, small_settings

    root = tmp_path_factory.mktemp("saved")
    data = write_dataset(root / "data", [20, 20, 20, 20])
    OfflineTrainer(root / "run", EpisodeDataset([data]), small_settings(), small_options(updates=2)).run()
    save_checkpoint(root / "sim84", Simulator(SimulatorConfig((84, 84), 5, 16, encoding_size=16)))
    save_checkpoint(root / "sim4actions", Simulator(SimulatorConfig((32, 32), 4, 16, encoding_size=16)))
    return root


def _truncated_checkpoint(root, tmp):
    data = open(root / "run" / "simulator.npz", "rb").read()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 2])
    return tmp / "cut.npz"


def _pickled_episode(root, tmp):
    folder = shutil.copytree(root / "data", tmp / "pickled")
    objects = np.empty(1, dtype=object)
    objects[0] = {"x": 1}
    episode = make_episode(20)
    np.savez(os.path.join(folder, "episode_000002.npz"), frames=objects, actions=episode.actions,
             rewards=episode.rewards, episode_ends=episode.episode_ends)
    return folder


def _truncated_episode(root, tmp):
    folder = shutil.copytree(root / "data", tmp / "cut")
    path = os.path.join(folder, "episode_000001.npz")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:100])
    return folder


def _damaged_run(root, tmp):
    run = shutil.copytree(root / "run", tmp / "damaged")
    for _, path in list_checkpoints(os.path.join(run, "checkpoints")):
        open(path, "wb").write(b"PK\x03\x04")
    return run


def _bad_manifest(root, tmp):
    folder = shutil.copytree(root / "data", tmp / "badjson")
    open(os.path.join(folder, "manifest.json"), "w").write("{not json")
    return folder


def _file(root, tmp):
    (tmp / "a_file").write_text("x")
    return tmp / "a_file"


def _not_dataset(root, tmp):
    (tmp / "photos").mkdir()
    (tmp / "photos" / "cat.png").write_bytes(b"x")
    return tmp / "photos"


def _other_game_dataset(root, tmp):
    return write_dataset(tmp / "pong", [5], env_id="Pong-v0", n_actions=6)


def _short_episodes(root, tmp):
    return write_dataset(tmp / "short", [5, 6])


def _one_episode(root, tmp):
    return write_dataset(tmp / "one", [30])


def _empty(root, tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _copy_run(root, tmp):
    return shutil.copytree(root / "run", tmp / "run")


D = "{data}"
# (argv with placeholders, expected stderr pattern). Placeholders: {data} dataset, {run} finished run,
# {new} a path that does not exist yet, {x} built by the named helper.
BAD_INPUTS = [
    # folders and datasets
    (["train", "{new}", "--out", "{new}/o"], r"dataset folder .* does not exist"),
    (["train", "{x}", "--out", "{new}"], r"dataset folder .* is empty: collect episodes", _empty),
    (["train", "{x}", "--out", "{new}"], r"is not a dataset folder: it has no manifest.json", _not_dataset),
    (["train", "{x}", "--out", "{new}"], r"dataset .*a_file is not a folder", _file),
    (["train", "{x}", "--out", "{new}"], r"cannot read .*manifest.json: JSONDecodeError", _bad_manifest),
    (["train", "{x}", "--out", "{new}"], r"cannot read episode file .*episode_000001.npz: truncated, corrupted",
     _truncated_episode),
    (["train", "{x}", "--out", "{new}"],
     r"episode_000002.npz: .*Object arrays cannot be loaded when allow_pickle=False",
     _pickled_episode),
    (["train", D, "{x}", "--out", "{new}"], r"pong holds Pong-v0 episodes \(32x32 frames, 6 actions\) but .*data holds BlockWorld-v0 episodes "
     r"\(32x32 frames, 5 actions\): train on folders of one game and frame size",
     _other_game_dataset),
    (["train", "{x}", "--out", "{new}", "--unroll-dep", "15", "--obs-dep", "10", "--pred-dep", "10"],
     r"dataset too small: .* = 36 consecutive frames of one episode, the longest episode has 7", _short_episodes),
    (["train", "{x}", "--out", "{new}", *SMALL_TRAIN_FLAGS],
     r"at least 2 episodes of 4 frames or more, there is 1; .*--validation-fraction 0", _one_episode),
    (["train", "--out", "{new}"], r"give at least one dataset folder"),
    (["train", D, "--out", "{x}"], r"--out .*a_file is a file; give a folder", _file),
    # checkpoints
    (["train", D, "--out", "{new}", "--loadtosim", "{new}/sim"], r"--loadtosim: checkpoint .* does not exist"),
    (["train", D, "--out", "{new}", "--loadtosim", "{x}"], r"--loadtosim: no simulator.npz in folder", _empty),
    (["train", D, "--out", "{new}", "--loadtosim", "{x}"],
     r"--loadtosim: cannot read checkpoint .*cut.npz: truncated or corrupted", _truncated_checkpoint),
    (["train", D, "--out", "{new}", "--loadtosim", "{saved}/sim84"],
     r"--loadtosim .*sim84: the simulator has frames 84x84, 5 actions, .* this game needs 32x32 frames and 5 actions"),
    (["train", D, "--out", "{new}", "--loadtosim", "{saved}/sim4actions"],
     r"the simulator has frames 32x32, 4 actions.* needs 32x32 frames and 5 actions"),
    (["train", D, "--out", "{new}", "--loadtosim", "{run}", "--hidden-size", "32"],
     r"--hidden-size 32 differs from the 16 LSTM units of --loadtosim"),
    (["train", D, "--out", "{x}"],
     r"already holds a training run \(checkpoints/checkpoint_00000002.npz\): add --resume", _copy_run),
    (["train", D, "--out", "{new}", "--resume"], r"--resume: .* does not exist; start without --resume"),
    (["train", D, "--out", "{x}", "--resume"], r"--resume: .* holds no checkpoint to resume from", _empty),
    (["train", "--out", "{x}", "--resume"], r"none of the 1 checkpoint\(s\) in .* loads", _damaged_run),
    (["train", "--out", "{x}", "--resume", "--batch-size", "4"],
     r"--resume: --batch-size 4 differs from this run's 2; drop --batch-size", _copy_run),
    (["train", "--out", "{x}", "--resume", "--loadtosim", "{run}"], r"--loadtosim starts a new run", _copy_run),
    (["train", "{x}", "--out", "{run}", "--resume"], r"the dataset differs from the one this run started with",
     _short_episodes),
    # sizes and counts
    (["train", D, "--out", "{new}", "--batch-size", "0"],
     r"argument --batch-size.*: expected a positive integer, got '0'"),
    (["train", D, "--out", "{new}", "--hidden-size", "-8"],
     r"argument --hidden-size.*expected a positive integer, got '-8'"),
    (["train", D, "--out", "{new}", "--updates", "0"], r"argument --updates: expected a positive integer, got '0'"),
    (["train", D, "--out", "{new}", "--checkpoint-every", "-5"], r"argument --checkpoint-every: expected a positive"),
    (["train", D, "--out", "{new}", "--keep-checkpoints", "0"], r"argument --keep-checkpoints: expected a positive"),
    (["train", D, "--out", "{new}", "--unroll-dep", "-1"],
     r"argument --unroll-dep.*expected an integer >= 0, got '-1'"),
    (["train", D, "--out", "{new}", "--obs-dep", "0", "--pred-dep", "0"], r"obs_dep \+ pred_dep must be >= 1"),
    (["train", D, "--out", "{new}", "--lr", "0"], r"argument --lr: expected a positive finite number, got '0'"),
    (["train", D, "--out", "{new}", "--validation-fraction", "1"], r"expected a number in \[0, 1\), got '1'"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--episodes", "0"],
     r"argument --episodes: expected a positive integer, got '0'"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--frame-size", "-32"], r"argument --frame-size"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--frame-size", "8"], r"--frame-size 8 is too small"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--max-episode-steps", "0"], r"--max-episode-steps"),
    # games and agents
    (["collect", "--env", "Breakot-v0", "--out", "{new}"],
     r"unknown environment 'Breakot-v0'; did you mean: Breakout-v0"),
    (["collect", "--env", "BlockWorld-v0", "--frame-size", "48", "--out", D],
     r"holds BlockWorld-v0 episodes \(32x32 frames, 5 actions\), not BlockWorld-v0 episodes \(48x48 frames, "
     r"5 actions\): use another --out folder"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{x}"], r"--out .*a_file is a file; give a folder", _file),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--load", "{new}/agent"],
     r"agent folder .* does not exist"),
    (["collect", "--env", "BlockWorld-v0", "--out", "{new}", "--load", "{x}", "--policy", "random"],
     r"cannot be combined with --policy random", _empty),
]


def _fill(argv, saved_root, tmp, made):
    values = {"data": str(saved_root / "data"), "run": str(saved_root / "run"), "saved": str(saved_root),
              "new": str(tmp / "new"), "x": str(made)}
    return [a.format(**values) for a in argv]


def _snapshot(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            files[path] = open(path, "rb").read()
    return files


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[f"{i:02d}-{c[0][0]}" for i, c in enumerate(BAD_INPUTS)])
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(case, saved, tmp_path, cli):
    argv, pattern = case[0], case[1]
    made = case[2](saved, tmp_path) if len(case) > 2 else None
    argv = _fill(argv, saved, tmp_path, made)
    before = {**_snapshot(saved), **_snapshot(tmp_path)}
    code, out, err = cli(*argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"recurrent-sim {argv[0]}: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    after = {**_snapshot(saved), **_snapshot(tmp_path)}
    # nothing written, nothing damaged; unreadable checkpoints are only renamed *.damaged
    assert {path.removesuffix(".damaged"): data for path, data in after.items()} == before
    assert not os.path.exists(tmp_path / "new")


def test_bad_input_through_a_real_process_has_no_traceback(tmp_path):
    process = start_cli("train", tmp_path / "missing", "--out", tmp_path / "out")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert own_lines(err) == [f"recurrent-sim train: error: dataset folder {tmp_path / 'missing'} does not exist"]
    assert not os.path.exists(tmp_path / "out")


def test_collect_resumes_without_duplicating_or_losing_episodes(tmp_path, cli):
    flags = ["--env", "BlockWorld-v0", "--frame-size", 32, "--policy", "random", "--seed", 3]
    assert cli("collect", *flags, "--out", tmp_path / "whole", "--episodes", 4)[0] == 0
    assert cli("collect", *flags, "--out", tmp_path / "parts", "--episodes", 1)[0] == 0
    # an interruption after the second episode file was renamed into place, before the manifest was updated:
    assert cli("collect", *flags, "--out", tmp_path / "spare", "--episodes", 2)[0] == 0
    shutil.copy(tmp_path / "spare" / "episode_000001.npz", tmp_path / "parts" / "episode_000001.npz")
    assert cli("collect", *flags, "--out", tmp_path / "parts", "--episodes", 4)[0] == 0
    whole, parts = load_dataset(tmp_path / "whole"), load_dataset(tmp_path / "parts")
    assert [e["steps"] for e in parts[0]["episodes"]] == [e["steps"] for e in whole[0]["episodes"]]
    assert len(parts[1]) == 4
    for a, b in zip(whole[1], parts[1]):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
    code, out, _ = cli("collect", *flags, "--out", tmp_path / "parts", "--episodes", 4)
    assert code == 0 and "already holds 4 episodes" in out
