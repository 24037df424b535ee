"""Checking the episodes a dataset folder already holds before adding to it."""
import os

from recurrent_sim.data.episodes import MANIFEST, DatasetError, load_episode, read_manifest

MAX_NAMED = 3  # unreadable files named in the message; the rest are counted


def unreadable_episodes(folder) -> list:
    """``[(file name, reason), ...]`` of the episodes listed in ``folder``'s manifest that do not load
    or disagree with it (steps, frame size). A folder without a manifest lists nothing."""
    if not os.path.exists(os.path.join(folder, MANIFEST)):
        return []
    manifest = read_manifest(folder)
    bad = []
    for entry in manifest["episodes"]:
        try:
            episode = load_episode(os.path.join(folder, entry["file"]))
        except DatasetError as e:
            bad.append((entry["file"], str(e)))
            continue
        if list(episode.frame_shape) != manifest["frame_shape"] or episode.steps != entry["steps"]:
            bad.append((entry["file"], f"{episode.steps} steps of {episode.frame_shape} frames, not as in {MANIFEST}"))
    return bad


def check_episodes_readable(folder, flag="--out"):
    """Raise :class:`DatasetError` naming the unreadable episodes of ``folder``, if any."""
    bad = unreadable_episodes(folder)
    if bad:
        names = ", ".join(name for name, _ in bad[:MAX_NAMED])
        if len(bad) > MAX_NAMED:
            names += f" and {len(bad) - MAX_NAMED} more"
        raise DatasetError(
            f"{flag} {folder} holds {len(bad)} unreadable episode file(s) (truncated, corrupted or not as "
            f"{MANIFEST} says): {names}; delete them and their entries in {MANIFEST}, or collect into a new folder"
        )
