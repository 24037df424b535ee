import json
import os
import re
import zipfile

import numpy as np
import pytest

from recurrent_sim.data.episodes import (
    MANIFEST,
    DatasetError,
    Episode,
    EpisodeDataset,
    EpisodeWriter,
    load_dataset,
    load_episode,
    read_manifest,
    save_episode,
)
from tests.helpers import dead_pid, make_episode, write_dataset


def test_episode_file_round_trip_holds_plain_compressed_arrays(tmp_path):
    episode = make_episode(12, seed=3)
    path = tmp_path / "e.npz"
    save_episode(path, episode)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["actions.npy", "episode_ends.npy", "frames.npy", "rewards.npy"]
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in z.infolist())
    loaded = load_episode(path)
    assert loaded.frames.dtype == np.uint8 and loaded.frames.shape == (13, 32, 32)
    assert loaded.actions.dtype == np.int32 and loaded.rewards.dtype == np.float32
    for name in ("frames", "actions", "rewards", "episode_ends"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(episode, name))
    assert loaded.terminal and loaded.steps == 12
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(frames=np.zeros((5, 8, 8), np.uint8)), "5 frames for 3 actions"),
        (dict(frames=np.zeros((4, 8, 8), np.float32)), "frames must be 3-D uint8"),
        (dict(actions=np.zeros(3, np.int64)), "actions must be 1-D int32"),
        (dict(rewards=np.zeros(2, np.float32)), "3 actions, 2 rewards"),
        (dict(episode_ends=np.array([True, False, False])), "episode end before the last step"),
    ],
)
def test_inconsistent_episodes_are_refused(change, message):
    values = dict(frames=np.zeros((4, 8, 8), np.uint8), actions=np.zeros(3, np.int32),
                  rewards=np.zeros(3, np.float32), episode_ends=np.zeros(3, bool))
    values.update(change)
    with pytest.raises(ValueError, match=message):
        Episode(**values)


def test_writer_records_manifest_and_resumes_numbering(tmp_path):
    folder = tmp_path / "d"
    writer = EpisodeWriter(folder, "BlockWorld-v0", (32, 32), 5, {"gray": "luma"})
    writer.add(make_episode(10, seed=0), seed=11, policy="random")
    writer.add(make_episode(7, seed=1, terminal=False), seed=12, policy="random")
    manifest = read_manifest(folder)
    assert manifest["env_id"] == "BlockWorld-v0" and manifest["frame_shape"] == [32, 32]
    assert manifest["n_actions"] == 5 and manifest["total_steps"] == 17
    assert [(e["file"], e["steps"], e["terminal"], e["seed"]) for e in manifest["episodes"]] == [
        ("episode_000000.npz", 10, True, 11), ("episode_000001.npz", 7, False, 12)]
    assert manifest["episodes"][0]["episode_return"] == pytest.approx(float(make_episode(10, seed=0).rewards.sum()))

    again = EpisodeWriter(folder, "BlockWorld-v0", (32, 32), 5)
    assert again.num_episodes == 2 and again.total_steps == 17
    again.add(make_episode(5, seed=2))
    manifest, episodes = load_dataset(folder)
    assert [e["file"] for e in manifest["episodes"]][-1] == "episode_000002.npz"
    np.testing.assert_array_equal(episodes[1].frames, make_episode(7, seed=1, terminal=False).frames)
    assert manifest["preprocessing"] == {"gray": "luma"}


@pytest.mark.parametrize(
    "env_id, shape, n_actions",
    [("Pong-v0", (32, 32), 5), ("BlockWorld-v0", (84, 84), 5), ("BlockWorld-v0", (32, 32), 6)],
)
def test_writer_refuses_a_folder_of_another_game_size_or_action_count(tmp_path, env_id, shape, n_actions):
    folder = write_dataset(tmp_path / "d", [5])
    before = open(os.path.join(folder, MANIFEST)).read()
    with pytest.raises(DatasetError, match=r"holds BlockWorld-v0 episodes \(32x32 frames, 5 actions\), not .*"
                                           r"use another --out"):
        EpisodeWriter(folder, env_id, shape, n_actions)
    assert open(os.path.join(folder, MANIFEST)).read() == before


def test_reopening_adopts_an_unrecorded_episode_and_drops_temporaries(tmp_path):
    folder = write_dataset(tmp_path / "d", [5, 6])
    # A crash after the episode file was renamed into place, before the manifest was written:
    save_episode(os.path.join(folder, "episode_000002.npz"), make_episode(9, seed=7))
    # ... and a crash in the middle of writing the next one:
    open(os.path.join(folder, f".episode_000003.npz.{dead_pid()}.abc.tmp"), "wb").write(b"PK\x03\x04partial")
    writer = EpisodeWriter(folder, "BlockWorld-v0", (32, 32), 5)
    assert writer.num_episodes == 3 and writer.total_steps == 20
    assert not [n for n in os.listdir(folder) if n.endswith(".tmp")]
    manifest, episodes = load_dataset(folder)
    assert [e["steps"] for e in manifest["episodes"]] == [5, 6, 9]


def test_reopening_sets_a_damaged_unrecorded_episode_aside(tmp_path):
    folder = write_dataset(tmp_path / "d", [5])
    open(os.path.join(folder, "episode_000001.npz"), "wb").write(b"not a zip")
    writer = EpisodeWriter(folder, "BlockWorld-v0", (32, 32), 5)
    assert writer.num_episodes == 1
    assert os.path.exists(os.path.join(folder, "episode_000001.npz.damaged"))
    writer.add(make_episode(4))
    assert load_episode(os.path.join(folder, "episode_000001.npz")).steps == 4


def test_missing_listed_episode_is_reported(tmp_path):
    folder = write_dataset(tmp_path / "d", [5, 5])
    os.unlink(os.path.join(folder, "episode_000001.npz"))
    with pytest.raises(DatasetError, match="lists episode_000001.npz, which is missing"):
        EpisodeWriter(folder, "BlockWorld-v0", (32, 32), 5)
    with pytest.raises(DatasetError, match="episode_000001.npz is missing or not a file"):
        load_dataset(folder)


class _Marker:
    """Unpickling this object would create a file: proof that code ran."""

    path = None

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickled_episode_file_is_refused_without_running_it(tmp_path):
    folder = write_dataset(tmp_path / "d", [5])
    marker = tmp_path / "pickle-ran"
    _Marker.path = str(marker)
    objects = np.empty(1, dtype=object)
    objects[0] = _Marker()
    episode = make_episode(5)
    with open(os.path.join(folder, "episode_000000.npz"), "wb") as f:
        np.savez(f, frames=objects, actions=episode.actions, rewards=episode.rewards, episode_ends=episode.episode_ends)
    with pytest.raises(DatasetError, match="cannot read episode file .*episode_000000.npz.*pickle"):
        load_dataset(folder)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "folder", "empty", "missing_array"])
def test_unreadable_episode_files_give_one_clear_error(tmp_path, damage):
    folder = write_dataset(tmp_path / "d", [30])
    path = os.path.join(folder, "episode_000000.npz")
    data = open(path, "rb").read()
    os.unlink(path)
    if damage == "truncate":
        open(path, "wb").write(data[: len(data) // 2])
    elif damage == "garbage":
        open(path, "wb").write(bytes(range(256)) * 4)
    elif damage == "folder":
        os.mkdir(path)
    elif damage == "empty":
        open(path, "wb").close()
    else:
        np.savez_compressed(path, frames=np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(DatasetError) as info:
        load_dataset(folder)
    assert "\n" not in str(info.value) and "episode_000000.npz" in str(info.value)


def test_every_truncation_of_an_episode_file_is_a_dataset_error(tmp_path):
    path = tmp_path / "e.npz"
    save_episode(path, make_episode(30, seed=1))
    data = path.read_bytes()
    for cut in np.linspace(1, len(data) - 1, 25).astype(int):
        path.write_bytes(data[:cut])
        with pytest.raises(DatasetError, match="truncated, corrupted"):
            load_episode(path)


def test_manifest_errors(tmp_path):
    with pytest.raises(DatasetError, match="dataset folder .*nowhere does not exist"):
        read_manifest(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="is not a folder"):
        read_manifest(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="is empty: collect episodes with `recurrent-sim collect"):
        read_manifest(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="is not a dataset folder: it has no manifest.json"):
        read_manifest(tmp_path / "other")
    folder = write_dataset(tmp_path / "d", [3])
    manifest_path = os.path.join(folder, MANIFEST)
    good = json.load(open(manifest_path))
    open(manifest_path, "w").write('{"format": "recurrent_sim-episodes", "episodes": [')
    with pytest.raises(DatasetError, match="cannot read .*manifest.json: JSONDecodeError"):
        read_manifest(folder)
    json.dump(dict(good, format_version=99), open(manifest_path, "w"))
    with pytest.raises(DatasetError, match=r"was written by a newer recurrent_sim \(dataset format 99; this one "
                                           r"reads up to 1\): upgrade recurrent_sim"):
        read_manifest(folder)
    json.dump(dict(good, episodes=[{"file": "../../etc/passwd", "steps": 3}]), open(manifest_path, "w"))
    with pytest.raises(DatasetError, match="not a plain file name"):
        read_manifest(folder)
    json.dump(dict(good, episodes=[]), open(manifest_path, "w"))
    with pytest.raises(DatasetError, match="holds no episode yet"):
        load_dataset(folder)


def test_episode_that_disagrees_with_manifest_is_reported(tmp_path):
    folder = write_dataset(tmp_path / "d", [5])
    save_episode(os.path.join(folder, "episode_000000.npz"), make_episode(6))
    with pytest.raises(DatasetError, match="holds 6 steps of 32x32 frames, but manifest.json says 5 steps"):
        load_dataset(folder)
    episode = make_episode(5)
    episode.actions[2] = 9
    save_episode(os.path.join(folder, "episode_000000.npz"), episode)
    with pytest.raises(DatasetError, match="actions outside 0..4"):
        load_dataset(folder)


def test_dataset_of_several_folders(tmp_path):
    a = write_dataset(tmp_path / "a", [5, 6])
    b = write_dataset(tmp_path / "b", [7], seed=10)
    dataset = EpisodeDataset([a, b])
    assert len(dataset) == 3 and dataset.total_steps == 18
    assert dataset.frame_shape == (32, 32) and dataset.n_actions == 5 and dataset.env_id == "BlockWorld-v0"
    assert dataset.names[2] == os.path.join(b, "episode_000000.npz")
    assert dataset.fingerprint() == [
        [["episode_000000.npz", 5], ["episode_000001.npz", 6]], [["episode_000000.npz", 7]]]
    c = write_dataset(tmp_path / "c", [5], shape=(48, 48))
    with pytest.raises(DatasetError, match="train on folders of one game and frame size"):
        EpisodeDataset([a, c])
    with pytest.raises(DatasetError, match="no dataset folder given"):
        EpisodeDataset([])


@pytest.mark.parametrize("field, value, message", [
    ("format_version", "1e400", "format_version is Infinity, not an integer >= 1"),
    ("format_version", "true", "format_version is true, not an integer >= 1"),
    ("format_version", "0", "format_version is 0, not an integer >= 1"),
    ("format_version", "1.5", "format_version is 1.5, not an integer >= 1"),
    ("n_actions", "1e400", "n_actions is Infinity, not an integer >= 1"),
    ("total_steps", "-1e400", "total_steps is -Infinity, not an integer >= 0"),
    ("frame_shape", "[1e400, 32]", "height is Infinity, not an integer >= 1"),
    ("frame_shape", "[32, 32, 1]", "a frame must be (H, W) gray or (3, H, W) RGB, got shape (32, 32, 1)"),
    ("frame_shape", "[3, 32, 32, 1]", "a frame must be"),
])
def test_manifest_numbers_must_be_integers(tmp_path, field, value, message):
    """A number a float cannot hold (1e400 is read as infinity), a boolean or a fraction is refused in one line."""
    folder = write_dataset(tmp_path / "d", [3])
    path = os.path.join(folder, MANIFEST)
    manifest = json.load(open(path))
    text = json.dumps(dict(manifest, **{field: "HERE"})).replace('"HERE"', value)
    open(path, "w").write(text)
    with pytest.raises(DatasetError, match=f"^cannot read {re.escape(path)}: .*{re.escape(message)}") as caught:
        EpisodeDataset([folder])
    assert "\n" not in str(caught.value)
    assert open(path).read() == text  # nothing saved is changed


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_an_episode_with_a_reward_that_is_not_finite_is_refused(tmp_path, bad):
    from recurrent_sim.data.dataset_check import check_episodes_readable
    from recurrent_sim.utils.finite import NonFiniteError

    folder = write_dataset(tmp_path / "d", [6, 6])
    path = os.path.join(folder, "episode_000001.npz")
    episode = make_episode(6, seed=3)
    episode.rewards[4] = bad
    with pytest.raises(NonFiniteError, match="not saved: rewards hold NaN or infinite values"):
        save_episode(path, episode)  # never written ...
    with open(path, "wb") as f:  # ... but a file damaged otherwise is refused when read
        np.savez_compressed(f, **{name: getattr(episode, name) for name in
                                  ("frames", "actions", "rewards", "episode_ends")})
    message = (f"episode file {path} holds 1 NaN or infinite reward(s) (first at step 4); it is damaged: delete it "
               f"and its line in {MANIFEST}, or collect again")
    with pytest.raises(DatasetError, match=f"^{re.escape(message)}$"):
        load_episode(path)
    with pytest.raises(DatasetError, match=f"^{re.escape(message)}$"):
        EpisodeDataset([folder])
    with pytest.raises(DatasetError, match="holds 1 unreadable episode file\\(s\\) .*: episode_000001.npz;"):
        check_episodes_readable(folder)
