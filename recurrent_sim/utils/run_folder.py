"""The run folder convention of every command that writes a run.

A run folder (``--out`` of ``collect``, ``train``, ``evaluate``, the
time-stamped folder of the original script) holds:

* ``config.json``: every setting of the run, the versions of Python and of
  the packages, the git commit when the code runs from a clone, and the
  command line (:func:`write_run_config`; ``bench`` writes one file, so its
  JSON holds the same record under ``run``);
* ``log.csv``: one row per logged event, and the same rows as TensorBoard
  scalars (``events.out.tfevents.*``, written with tensorboardX), and
  ``training_curve.png`` drawn from the log (:class:`recurrent_sim.utils.run_log.RunLog`),
  for the commands that log a curve (training, collecting).
"""
import datetime
import json
import os
import subprocess
import sys
from typing import Optional

from recurrent_sim.utils.files import atomic_write
from recurrent_sim.utils.system import package_versions

CONFIG_FILE = "config.json"
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git_commit(path=PACKAGE_ROOT) -> Optional[str]:
    """The commit checked out in the git clone holding ``path`` (the package), or None outside a clone."""
    try:
        result = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_record(settings: dict, argv=None) -> dict:
    """What ``config.json`` holds: the settings (values that are not JSON, e.g.
    paths or callables, as text), package versions, git commit, command line
    (default: ``sys.argv``) and the time."""
    return {
        "settings": _jsonable(settings),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "command": list(sys.argv if argv is None else argv),
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def write_run_config(folder, settings: dict, argv=None) -> str:
    """Write :func:`run_record` as ``folder/config.json`` (folder created if missing), atomically;
    returns its path."""
    os.makedirs(folder, exist_ok=True)
    record = run_record(settings, argv)
    path = os.path.join(os.fspath(folder), CONFIG_FILE)
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path
