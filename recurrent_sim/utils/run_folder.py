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

A command that writes a set of outputs which belong together (``evaluate``)
writes them through :class:`StagedOutputs`, so that the folder holds the
complete set of one run, never a mix of two.
"""
import datetime
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import weakref
from typing import Optional

from recurrent_sim.utils.failures import OutputError, describe_os_error
from recurrent_sim.utils.files import atomic_write, sync_folder
from recurrent_sim.utils.locks import FolderLock
from recurrent_sim.utils.signals import signals_deferred
from recurrent_sim.utils.system import package_versions

logger = logging.getLogger(__name__)

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


STAGE_PREFIX = ".staging-"  # a run's outputs being written
MOVE_PREFIX = ".moving-"  # a complete set being moved into the folder


class StagedOutputs:
    """The outputs of a run replace those of an earlier run in ``folder`` all at once, or not at all.

    Creating it locks ``folder`` against a second writer (:class:`FolderLock`, created if missing) and
    makes :attr:`stage`, a fresh hidden folder inside it (same file system) where the run writes every
    output; :meth:`commit` then moves them into ``folder``, each over its namesake, with SIGINT and
    SIGTERM held off for those few renames. A run that fails or is interrupted before (an exception,
    Ctrl-C, SIGTERM) leaves ``folder`` as it was: the stage is removed when the object is dropped, or
    at exit. Files of ``folder`` the run does not write are kept. After a SIGKILL the next
    ``StagedOutputs`` of the folder removes an unfinished stage and finishes the move of a complete one.

    Usage::

        outputs = StagedOutputs(out, "--out")
        ...write every output under outputs.stage...
        outputs.commit()

    Raises:
        FolderBusyError: another process writes ``folder``.
        OutputError: the system refuses to create ``folder`` or the stage (exit status 1).
    """

    def __init__(self, folder, flag="--out"):
        self.folder = os.fspath(folder)
        self.lock = FolderLock(self.folder, flag).acquire()
        try:
            _finish_earlier_runs(self.folder)
            self.stage = tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=self.folder)
        except OSError as e:
            self.lock.release()
            raise OutputError(describe_os_error(e, e.filename or self.folder), e) from None
        self._drop = weakref.finalize(self, _drop_stage, self.stage, self.lock)

    def commit(self) -> str:
        """Move every file of :attr:`stage` into the folder, release the folder, and return its path."""
        self._drop.detach()
        with signals_deferred():
            moving = os.path.join(self.folder, MOVE_PREFIX + os.path.basename(self.stage)[len(STAGE_PREFIX):])
            os.rename(self.stage, moving)  # from here on the set is complete: a later run finishes the move
            _move_into(moving, self.folder)
        self.lock.release()
        return self.folder


def _drop_stage(stage, lock):
    shutil.rmtree(stage, ignore_errors=True)
    lock.release()


def _move_into(moving, folder):
    """Move every file of the folder ``moving`` into ``folder`` (replacing), then remove ``moving``."""
    for name in sorted(os.listdir(moving)):
        os.replace(os.path.join(moving, name), os.path.join(folder, name))
    os.rmdir(moving)
    sync_folder(folder)


def _finish_earlier_runs(folder):
    """What killed runs left in ``folder`` (whose lock this process holds): unfinished stages are
    removed, complete sets whose move was cut short are moved in."""
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(STAGE_PREFIX) and os.path.isdir(path):
            shutil.rmtree(path)
            logger.info("%s: removed the unfinished outputs of a run that was killed", folder)
        elif name.startswith(MOVE_PREFIX) and os.path.isdir(path):
            _move_into(path, folder)
            logger.info("%s: finished replacing the outputs of a run that was killed while doing so", folder)
