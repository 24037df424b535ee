"""One writer per folder: an exclusive advisory lock held for a command's lifetime.

A command that writes into a folder (``train --out``, ``--savesim``,
``collect --out``, the original script's run folder) holds
:class:`FolderLock` on it from before its first write until it exits. The
lock is the operating system's advisory lock (``fcntl.flock``) on the file
``FOLDER/.lock``; the file records the holder's process id and command line
so that a second writer is told who holds the folder.

The kernel releases a flock when the holding process ends, however it ends
(even SIGKILL), so a lock left by a killed process is simply taken over by
the next writer; the stale process id in the file is only reported in the
log. The lock file is removed on release; an acquirer that finds it was
removed between opening and locking it starts again, so two processes never
both believe they hold a folder.

Within one process a folder can be locked several times (nested); it is
released when the outermost holder releases it.
"""
import errno
import fcntl
import json
import logging
import os
import sys
import time

from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.failures import OutputError

logger = logging.getLogger(__name__)

LOCK_FILENAME = ".lock"
_held = {}  # real path of a locked folder -> [FolderLock, nesting count]


class FolderBusyError(UserError):
    """Another process holds the lock of a folder this command would write to."""


def _describe_holder(path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            holder = json.load(f)
        return f"process {int(holder['pid'])} ({holder.get('command', '?')})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _command_line() -> str:
    """This process's command line as the user typed it ('recurrent-sim train ...')."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    if program == "__main__.py":
        program = "python -m " + os.path.basename(os.path.dirname(sys.argv[0]))
    return " ".join([program] + sys.argv[1:])


def _process_alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _missing_folders(folder) -> list:
    """``folder`` and its ancestors that do not exist yet, innermost first."""
    missing = []
    folder = os.path.abspath(folder)
    while not os.path.exists(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


class FolderLock:
    """Exclusive lock on ``folder`` (created if missing) for writing.

    Args:
        folder: the folder to lock.
        flag: the flag that named it (``--out`` ...), used in messages.

    Use as a context manager, or call :meth:`acquire` / :meth:`release`.
    :meth:`release` removes the lock file, and the folder too when the lock
    created it and nothing else was written in it.

    Raises:
        FolderBusyError: another process holds the folder (the message names
            the folder and the holding process).
        OutputError: the system refuses to create the folder or the lock file (disk full,
            read-only, no permission ...): a failure of the machine, exit status 1 like any
            refused write.
    """

    def __init__(self, folder, flag="--out"):
        self.folder = os.fspath(folder)
        self.flag = flag
        self.path = os.path.join(self.folder, LOCK_FILENAME)
        self._fd = None
        self._created = []  # folders the lock created, innermost first
        self._key = None

    def acquire(self) -> "FolderLock":
        key = os.path.realpath(self.folder)
        if key in _held:
            _held[key][1] += 1
            self._key = key
            return self
        if os.path.exists(self.folder) and not os.path.isdir(self.folder):
            raise UserError(f"{self.flag} {self.folder} is a file; give a folder")
        self._created = _missing_folders(self.folder)
        try:
            os.makedirs(self.folder, exist_ok=True)
            self._fd = self._lock_file()
        except OSError as e:
            self._remove_created_folder()
            raise OutputError(f"{self.flag} {self.folder}: cannot lock it for writing ({e.strerror})", e) from None
        _held[key] = [self, 1]
        self._key = key
        return self

    def _lock_file(self):
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    self._remove_created_folder()
                    raise FolderBusyError(
                        f"{self.flag} {self.folder} is being written by {_describe_holder(self.path)}; "
                        "wait for it to end or choose another folder"
                    ) from None
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file meanwhile: lock the new one
        self._report_stale(fd)
        record = json.dumps({"pid": os.getpid(), "command": _command_line(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode("utf-8"), 0)
        return fd

    def _report_stale(self, fd):
        try:
            text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
            pid = int(json.loads(text)["pid"]) if text.strip() else None
        except (OSError, ValueError, KeyError, TypeError):
            pid = None
        if pid is not None and pid != os.getpid():
            state = "still running without the lock" if _process_alive(pid) else "no longer running"
            logger.info("%s: took over the lock left by process %d (%s)", self.folder, pid, state)

    def _remove_created_folder(self):
        for folder in self._created:  # innermost first; stops at the first one something was written in
            try:
                os.rmdir(folder)
            except OSError:
                return

    def release(self):
        if self._key is None:
            return
        key, self._key = self._key, None
        entry = _held[key]
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[key]
        entry[0]._unlock()

    def _unlock(self):
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None
        self._remove_created_folder()

    @property
    def held(self) -> bool:
        return self._key is not None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
