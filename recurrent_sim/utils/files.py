"""Crash-safe file writing: a file is either its old or its complete new content.

:func:`atomic_write` writes through a temporary file in the same folder,
flushed to disk and renamed (a failure of the operating system removes the
temporary file and raises a one-line :class:`OutputError`);
:func:`remove_stale_temporaries` deletes what a killed writer left behind,
never a file another live process may still be writing;
:data:`READ_ERRORS` is what reading a truncated, corrupted or foreign
``.npz``/zip file raises; :func:`display_path` is a path as text that can be
drawn or printed whatever bytes its name holds, and
:func:`write_undecodable_names` lets the standard output print such paths.
"""
import logging
import os
import sys
import tempfile
import time
import traceback
import zipfile
import zlib

from recurrent_sim.utils.failures import output_error

logger = logging.getLogger(__name__)

# A temporary file untouched this long is stale even when the process its name records runs (that
# process id was reused) or its name records none (written by an earlier version), seconds.
STALE_AFTER_SECONDS = 3600
_writing = set()  # temporary files this process is writing now

# What numpy and zipfile raise on truncated, corrupted or foreign .npz files.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


class _QuietAfterFailure:
    """A binary file whose writes, seeks and flushes only move a position once one has failed, so
    that the clean-up code of a writer interrupted by a full disk (numpy's zip file writing its
    directory) does not fail a second time."""

    def __init__(self, f):
        self._f = f
        self.failed = False
        self.position = self.end = 0

    def _call(self, name, *args):
        try:
            return getattr(self._f, name)(*args)
        except OSError:
            self.failed = True
            raise

    def write(self, data):
        if not self.failed:
            self._call("write", data)
        size = memoryview(data).nbytes
        self.position += size
        self.end = max(self.end, self.position)
        return size

    def seek(self, offset, whence=0):
        if not self.failed:
            self._call("seek", offset, whence)
        self.position = (0, self.position, self.end)[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def flush(self):
        if not self.failed:
            self._call("flush")

    def __getattr__(self, name):
        return getattr(self._f, name)


def display_path(path) -> str:
    """``path`` as text that any text output takes: bytes of its name that are not UTF-8 (which
    Python keeps as lone surrogates, refused by fonts and strict streams) written as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def write_undecodable_names(stream=None):
    """Let ``stream`` (default: ``sys.stdout``) print paths whose names are not UTF-8 as the bytes they
    are (``surrogateescape``, as the standard output of a C locale does) instead of raising
    ``UnicodeEncodeError`` at the end of a run that wrote them. Streams that cannot be reconfigured
    are left as they are."""
    stream = sys.stdout if stream is None else stream
    if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
        stream.reconfigure(errors="surrogateescape")


def atomic_write(path, write):
    """Write a file through ``write(fileobj)`` so that ``path`` is either its
    old content or the complete new one, whatever moment the process dies.

    The data go to a temporary file in the same folder, named
    ``.NAME.PID.RANDOM.tmp`` (PID: this process's id, see
    :func:`remove_stale_temporaries`), are flushed to disk, then renamed
    over ``path``. A failure of the operating system (disk full, read-only,
    permission, name too long) removes the temporary file and raises
    :class:`OutputError` naming ``path`` and the system's reason.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)[:200]}.{os.getpid()}.", suffix=".tmp",
                                   dir=folder)
        _writing.add(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as raw:
            f = _QuietAfterFailure(raw)
            try:
                write(f)
            except BaseException as error:
                # Let the writer's objects (numpy's open zip file) be closed now, into the quiet file,
                # rather than later by the garbage collector with a second error ('seek of closed file').
                traceback.clear_frames(error.__traceback__)
                raise
            f.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
        _writing.discard(tmp)
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        _writing.discard(tmp)
        failure = output_error(error, path)
        if failure is not None:
            raise failure from None
        raise
    sync_folder(folder)


def sync_folder(folder):
    """fsync ``folder`` itself, so that the names just renamed into it survive a power cut
    (nothing on file systems that refuse to fsync a folder)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


def _writer_pid(name):
    """The process id a temporary file's name ``.NAME.PID.RANDOM.tmp`` records, or None."""
    parts = name[: -len(".tmp")].rsplit(".", 2)
    if len(parts) == 3 and parts[1].isascii() and parts[1].isdigit() and int(parts[1]) > 0:
        return int(parts[1])
    return None


def _process_runs(pid) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # none runs, or a number no process can have
        return False
    except PermissionError:  # another user's process
        return True
    return True


def is_stale_temporary(path, now=None) -> bool:
    """True when the temporary file ``path`` of :func:`atomic_write` is left over, so that no
    live process writes it any more: the process its name records no longer runs; or it is this
    process, which is not writing it (a process that had the same id earlier, as happens in
    containers); or the file was not modified for :data:`STALE_AFTER_SECONDS`."""
    pid = _writer_pid(os.path.basename(path))
    if pid == os.getpid():
        return os.path.abspath(path) not in _writing
    if pid is not None and not _process_runs(pid):
        return True
    try:
        age = (time.time() if now is None else now) - os.stat(path).st_mtime
    except FileNotFoundError:  # renamed or removed by its writer meanwhile
        return False
    return age > STALE_AFTER_SECONDS


def remove_stale_temporaries(folder, prefix=""):
    """Delete the temporary files that :func:`atomic_write` calls killed
    mid-way (SIGKILL, power loss) left in ``folder`` for files whose name
    starts with ``prefix`` (a string or a tuple of them); returns their
    paths. Finished files, and temporaries a live process may still be
    writing (see :func:`is_stale_temporary`), are untouched.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    prefixes = tuple("." + p for p in ((prefix,) if isinstance(prefix, str) else prefix))
    removed = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.startswith(prefixes) and name.endswith(".tmp") and is_stale_temporary(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.append(path)
    if removed:
        logger.info("removed %d unfinished temporary file(s) in %s", len(removed), folder)
    return removed
