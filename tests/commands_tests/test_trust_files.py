"""Checkpoints and data files that are not what they claim: a weight of another shape, metadata
of the wrong type, a format version that is not a positive integer or is newer than this
recurrent_sim, a manifest number a float cannot hold, a reward that is not finite, temporaries a
killed command left. Each case: one line, exit status 2, nothing saved changed."""
import json
import os
import re

import numpy as np
import pytest

from recurrent_sim.training.checkpoint import FORMAT_VERSION, list_checkpoints
from tests.commands_tests.test_trust import BLOCKWORLD, one_error_line, snapshot, trained  # NOQA: F401 (a fixture)
from tests.helpers import SMALL_TRAIN_FLAGS, dead_pid, make_episode

WEIGHT = "model/transition_lstm/factor_to_gates/W"
EVALUATE = ["--env", "BlockWorld-v0", "--sequences", 2, "--warmup", 2, "--horizon", 3, "--batch-size", 2]


def rewrite(path, **changes):
    """Rewrite the .npz ``path`` with arrays replaced by ``changes`` (names with '__' for '/')."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays.update({name.replace("__", "/"): np.asarray(value) for name, value in changes.items()})
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_weight_of_another_shape_is_refused_by_every_loader(tmp_path, trained, dataset, cli):  # NOQA: F811
    path = trained / "simulator.npz"
    with np.load(path) as npz:
        weight = npz[WEIGHT]
    rewrite(path, **{WEIGHT.replace("/", "__"): weight[:, :1]})  # numpy would broadcast it over 32 columns
    before = snapshot(tmp_path)
    expected = (f"{path} does not fit the simulator its config describes: array {WEIGHT} is (64, 1) float32, "
                "but the model needs (64, 32) float32; it is damaged or was not written by recurrent_sim")
    for argv in (["evaluate", "--loadtosim", trained, "--out", tmp_path / "evaluation", *EVALUATE],
                 ["train", dataset, "--out", tmp_path / "run2", "--loadtosim", trained, *SMALL_TRAIN_FLAGS]):
        code, _, err = cli(*argv)
        assert code == 2
        assert one_error_line(err, argv[0]).endswith(expected)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("change, message", [
    ({"metadata": "null"}, "its metadata is null, not a JSON object"),
    ({"metadata": "[1, 2]"}, "its metadata is [1, 2], not a JSON object"),
    ({"metadata": '{"env_id": 7}'}, "metadata field 'env_id' is 7, not a string or null"),
    ({"format_version": -1}, "its format_version is -1, not a positive integer"),
    ({"format_version": True}, "its format_version is True, not a positive integer"),
    ({"format_version": 2.5}, "its format_version is 2.5, not a positive integer"),
])
def test_invalid_metadata_and_format_versions_are_refused(tmp_path, trained, cli, change, message):  # NOQA: F811
    path = trained / "simulator.npz"
    rewrite(path, **change)
    before = snapshot(tmp_path)
    code, _, err = cli("evaluate", "--loadtosim", trained, "--out", tmp_path / "evaluation", *EVALUATE)
    assert code == 2
    assert one_error_line(err, "evaluate").endswith(
        f"{path} is not a valid recurrent_sim checkpoint: {message}; it is damaged or was not written by recurrent_sim")
    assert snapshot(tmp_path) == before


def test_resume_refuses_a_checkpoint_of_a_newer_format_and_leaves_it_alone(trained, cli):  # NOQA: F811
    newest = list_checkpoints(trained / "checkpoints")[-1][1]
    rewrite(newest, format_version=FORMAT_VERSION + 1)
    before = snapshot(trained)
    code, _, err = cli("train", "--out", trained, "--resume", "--updates", 8)
    assert code == 2
    assert one_error_line(err, "train").endswith(
        f"{newest} was written by a newer recurrent_sim (checkpoint format {FORMAT_VERSION + 1}; this one reads "
        f"formats 1 to {FORMAT_VERSION}): upgrade recurrent_sim to load it")
    assert snapshot(trained) == before  # not renamed .damaged, no rollback to the one before


def test_a_manifest_number_no_float_holds_is_one_line_in_train_and_collect(tmp_path, dataset, cli):
    manifest = os.path.join(dataset, "manifest.json")
    text = open(manifest).read()
    assert '"format_version": 1' in text
    open(manifest, "w").write(text.replace('"format_version": 1', '"format_version": 1e400'))
    before = snapshot(tmp_path)
    for argv in (["train", dataset, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS],
                 ["collect", *BLOCKWORLD, "--episodes", 5, "--out", dataset]):
        code, _, err = cli(*argv)
        assert code == 2
        assert one_error_line(err, argv[0]).endswith(
            f"cannot read {manifest}: ValueError: format_version is Infinity, not an integer >= 1")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("heads", [False, True])
def test_an_episode_with_a_nan_reward_is_refused_by_train_and_collect(tmp_path, dataset, cli, heads):
    path = os.path.join(dataset, "episode_000002.npz")
    episode = make_episode(20, seed=2)
    episode.rewards[7] = np.nan
    with open(path, "wb") as f:  # damaged outside recurrent_sim: its saves refuse NaN
        np.savez_compressed(f, frames=episode.frames, actions=episode.actions, rewards=episode.rewards,
                            episode_ends=episode.episode_ends)
    before = snapshot(tmp_path)
    code, _, err = cli("train", dataset, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS, *(["--heads"] * heads))
    assert code == 2
    assert one_error_line(err, "train").endswith(
        f"episode file {path} holds 1 NaN or infinite reward(s) (first at step 7); it is damaged: delete it and "
        "its line in manifest.json, or collect again")
    code, _, err = cli("collect", *BLOCKWORLD, "--episodes", 5, "--out", dataset)
    assert code == 2 and "holds 1 unreadable episode file(s)" in one_error_line(err, "collect")
    assert "episode_000002.npz;" in err
    assert snapshot(tmp_path) == before


def test_evaluate_removes_what_a_killed_evaluation_left_in_its_folder(tmp_path, trained, cli):  # NOQA: F811
    out = tmp_path / "evaluation"
    out.mkdir()
    left = out / f".error_curve.png.{dead_pid()}.k2j4_x9a.tmp"
    left.write_bytes(b"\x89PNG half")
    mine = out / ".notes.txt.tmp"  # not one of evaluate's files: kept
    mine.write_bytes(b"x")
    code, _, err = cli("evaluate", "--loadtosim", trained, "--out", out, *EVALUATE)
    assert code == 0, err
    assert not left.exists() and mine.exists()
    assert not [name for name in os.listdir(out) if name.endswith(".tmp") and name != mine.name]
    assert json.loads((out / "summary.json").read_text())["settings"]["sequences"] == 2
    assert re.search(r"error_curve\.png", " ".join(os.listdir(out)))
