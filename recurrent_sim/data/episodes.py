"""Episode datasets on disk: one compressed ``.npz`` per episode plus a JSON manifest.

A dataset is a folder::

    manifest.json
    episode_000000.npz
    episode_000001.npz
    ...

Each ``episode_NNNNNN.npz`` (written with ``numpy.savez_compressed``, read
with ``allow_pickle=False``) holds one stretch of play that starts at a
reset of the game, ``T`` steps long:

================  ===============  =======  ==========================================
array             shape            dtype    meaning
================  ===============  =======  ==========================================
``frames``        (T + 1, H, W)    uint8    preprocessed gray frames, or (T + 1, 3, H, W)
                                            RGB; ``frames[t]`` is the frame ``actions[t]`` was taken on
``actions``       (T,)             int32    action index
``rewards``       (T,)             float32  reward of the transition (unclipped)
``episode_ends``  (T,)             bool     the transition ended the episode (only the
                                            last may be true; all false when play was
                                            cut by ``--max-episode-steps``)
================  ===============  =======  ==========================================

``manifest.json`` records the format, env id, frame shape, number of
actions, preprocessing, and per episode its file, steps, return, whether it
ended the game, the seed of its reset and the policy that played it.

Files are written atomically (temporary file, fsync, rename), the episode
first and the manifest after it; reopening a folder with
:class:`EpisodeWriter` adopts an episode whose manifest entry a crash
prevented, and removes temporary files of unfinished writes, so an
interrupted collection resumes without losing or duplicating episodes.
"""
import json
import logging
import os

import numpy as np

from recurrent_sim.data.episode import (  # NOQA (Episode and DatasetError are part of this module's interface)
    EPISODE_PREFIX,
    MANIFEST,
    DatasetError,
    Episode,
    _count,
    _frame_shape,
    episode_filename,
    load_episode,
    save_episode,
)
from recurrent_sim.models.config import describe_frames
from recurrent_sim.utils.files import atomic_write, remove_stale_temporaries

logger = logging.getLogger(__name__)

FORMAT = "recurrent_sim-episodes"
FORMAT_VERSION = 1


def _check_folder(folder) -> str:
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise DatasetError(f"dataset folder {folder} does not exist")
    if not os.path.isdir(folder):
        raise DatasetError(f"dataset {folder} is not a folder")
    return folder


def read_manifest(folder) -> dict:
    """The manifest of a dataset folder, checked for the fields readers use.

    Raises:
        DatasetError: missing or empty folder, no or unreadable manifest.
    """
    folder = _check_folder(folder)
    path = os.path.join(folder, MANIFEST)
    if not os.path.exists(path):
        if not os.listdir(folder):
            raise DatasetError(
                f"dataset folder {folder} is empty: collect episodes with `recurrent-sim collect --out {folder}`"
            )
        raise DatasetError(f"{folder} is not a dataset folder: it has no {MANIFEST}")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}, not {FORMAT!r}")
        version = _count(manifest, "format_version", minimum=1)
        if version > FORMAT_VERSION:
            raise DatasetError(f"{path} was written by a newer recurrent_sim (dataset format {version}; this one "
                               f"reads up to {FORMAT_VERSION}): upgrade recurrent_sim")
        manifest["frame_shape"] = _frame_shape(manifest["frame_shape"])
        manifest["n_actions"] = _count(manifest, "n_actions", minimum=1)
        _count(manifest, "total_steps")
        for entry in manifest["episodes"]:
            entry["file"], entry["steps"] = str(entry["file"]), _count(entry, "steps")
            if os.path.basename(entry["file"]) != entry["file"]:
                raise ValueError(f"episode file {entry['file']!r} is not a plain file name")
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise DatasetError(f"cannot read {path}: {type(e).__name__}: {e}") from None
    return manifest


def _describe(manifest) -> str:
    """'BlockWorld-v0 episodes (32x32 frames, 5 actions)' ('210x160 RGB frames' in colour)."""
    frames = describe_frames(manifest["frame_shape"])
    return f"{manifest['env_id']} episodes ({frames} frames, {manifest['n_actions']} actions)"


def _actions_in_range(episode, n_actions) -> bool:
    return not episode.steps or 0 <= int(episode.actions.min()) <= int(episode.actions.max()) < n_actions


def _write_manifest(folder, manifest):
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    atomic_write(os.path.join(folder, MANIFEST), lambda f: f.write(text.encode("utf-8")))


class EpisodeWriter:
    """Appends episodes to a dataset folder; opening an existing one resumes it.

    Args:
        folder: the dataset folder (created if missing).
        env_id: gym id of the game.
        frame_shape: (H, W) of the stored gray frames, (3, H, W) of RGB ones, pixels.
        n_actions: number of actions of the game.
        preprocessing: JSON-able description of how frames were made.

    Raises:
        DatasetError: the folder holds another game, frame size or action
            count, or files this package did not write in it.
    """

    def __init__(self, folder, env_id, frame_shape, n_actions, preprocessing=None):
        self.folder = os.fspath(folder)
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise DatasetError(f"--out {self.folder} is a file, not a folder")
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as e:
            raise DatasetError(f"cannot create dataset folder {self.folder}: {e.strerror}") from None
        wanted = {"env_id": env_id, "frame_shape": [int(s) for s in frame_shape], "n_actions": int(n_actions)}
        if os.path.exists(os.path.join(self.folder, MANIFEST)):
            self.manifest = read_manifest(self.folder)
            self._check_compatible(wanted)
        elif any(name.startswith(EPISODE_PREFIX) for name in os.listdir(self.folder)):
            raise DatasetError(f"{self.folder} holds episode files but no {MANIFEST}; use another --out folder")
        else:
            self.manifest = dict(format=FORMAT, format_version=FORMAT_VERSION, preprocessing=preprocessing or {},
                                 episodes=[], total_steps=0, **wanted)
        for prefix in (EPISODE_PREFIX, MANIFEST):
            remove_stale_temporaries(self.folder, prefix)
        self._adopt_orphans()
        for entry in self.manifest["episodes"]:
            if not os.path.isfile(os.path.join(self.folder, entry["file"])):
                raise DatasetError(
                    f"{MANIFEST} of {self.folder} lists {entry['file']}, which is missing; "
                    "restore it or collect into a new folder")
        _write_manifest(self.folder, self.manifest)

    def _check_compatible(self, wanted):
        if any(self.manifest.get(key) != value for key, value in wanted.items()):
            raise DatasetError(
                f"{self.folder} holds {_describe(self.manifest)}, not {_describe(wanted)}: use another --out folder"
            )

    def _adopt_orphans(self):
        """List the complete episode files a crash wrote but did not record."""
        while True:
            name = episode_filename(self.num_episodes)
            path = os.path.join(self.folder, name)
            if not os.path.exists(path):
                return
            try:
                episode = load_episode(path)
            except DatasetError as e:
                logger.warning("%s; setting it aside as %s.damaged", e, name)
                os.replace(path, path + ".damaged")
                return
            logger.info("recovered %s, written before an interruption", name)
            self._record(name, episode, seed=None, policy=None)

    @property
    def num_episodes(self) -> int:
        return len(self.manifest["episodes"])

    @property
    def total_steps(self) -> int:
        return int(self.manifest["total_steps"])

    def _record(self, name, episode, seed, policy):
        self.manifest["episodes"].append(
            dict(file=name, steps=episode.steps, terminal=episode.terminal,
                 episode_return=float(episode.rewards.sum(dtype=np.float64)), seed=seed, policy=policy))
        self.manifest["total_steps"] = self.total_steps + episode.steps

    def add(self, episode: Episode, seed=None, policy=None) -> str:
        """Write ``episode`` as the next file, then record it; returns its path.

        ``seed`` (the reset seed) and ``policy`` (a description of who
        played) are stored in the manifest.
        """
        if list(episode.frame_shape) != self.manifest["frame_shape"]:
            raise ValueError(f"episode frames {episode.frame_shape} != dataset frames {self.manifest['frame_shape']}")
        if not _actions_in_range(episode, self.manifest["n_actions"]):
            raise ValueError(f"episode actions outside 0..{self.manifest['n_actions'] - 1}")
        name = episode_filename(self.num_episodes)
        path = os.path.join(self.folder, name)
        save_episode(path, episode)
        self._record(name, episode, seed, policy)
        _write_manifest(self.folder, self.manifest)
        return path


def load_dataset(folder):
    """``(manifest, episodes)`` of one dataset folder, every file checked.

    Raises:
        DatasetError: see :func:`read_manifest` and :func:`load_episode`;
            also when the folder holds no episode or a file disagrees with
            the manifest.
    """
    manifest = read_manifest(folder)
    if not manifest["episodes"]:
        raise DatasetError(f"dataset folder {folder} holds no episode yet: collect some first")
    episodes = []
    for entry in manifest["episodes"]:
        path = os.path.join(folder, entry["file"])
        episode = load_episode(path)
        if list(episode.frame_shape) != manifest["frame_shape"] or episode.steps != entry["steps"]:
            raise DatasetError(
                f"{path} holds {episode.steps} steps of {describe_frames(episode.frame_shape)} frames, "
                f"but {MANIFEST} says {entry['steps']} steps of {describe_frames(manifest['frame_shape'])}"
            )
        if not _actions_in_range(episode, manifest["n_actions"]):
            raise DatasetError(f"{path} has actions outside 0..{manifest['n_actions'] - 1}")
        episodes.append(episode)
    return manifest, episodes


class EpisodeDataset:
    """The episodes of one or more dataset folders, read into memory.

    Memory: about ``total_steps * H * W`` bytes.

    Attributes:
        folders: the folders, as given.
        episodes: list of :class:`Episode`, folder by folder in manifest order.
        names: ``"<folder>/<file>"`` of each episode.
        env_id, frame_shape ((H, W) gray, (3, H, W) RGB), n_actions: common to all folders.

    Raises:
        DatasetError: a folder is unusable (see :func:`load_dataset`) or the
            folders hold different games, frame sizes or action counts.
    """

    def __init__(self, folders):
        folders = [os.fspath(folder) for folder in folders]
        if not folders:
            raise DatasetError("no dataset folder given")
        self.folders = folders
        self.episodes, self.names, self.manifests = [], [], []
        for folder in folders:
            manifest, episodes = load_dataset(folder)
            first = self.manifests[0] if self.manifests else manifest
            keys = ("env_id", "frame_shape", "n_actions")
            if any(manifest[key] != first[key] for key in keys):
                raise DatasetError(
                    f"{folder} holds {_describe(manifest)} but {folders[0]} holds {_describe(first)}: "
                    "train on folders of one game and frame size"
                )
            self.manifests.append(manifest)
            self.episodes.extend(episodes)
            self.names.extend(os.path.join(folder, entry["file"]) for entry in manifest["episodes"])
        self.env_id = self.manifests[0]["env_id"]
        self.frame_shape = tuple(self.manifests[0]["frame_shape"])
        self.n_actions = self.manifests[0]["n_actions"]

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def total_steps(self) -> int:
        return sum(episode.steps for episode in self.episodes)

    def fingerprint(self):
        """``[[file, steps], ...]`` per folder: what a resumed run checks it trains on.

        Folder paths are left out so that a dataset may be moved.
        """
        return [[[entry["file"], entry["steps"]] for entry in manifest["episodes"]] for manifest in self.manifests]
