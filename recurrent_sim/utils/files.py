"""Crash-safe file writing: a file is either its old or its complete new content.

:func:`atomic_write` writes through a temporary file in the same folder,
flushed to disk and renamed (a failure of the operating system removes the
temporary file and raises a one-line :class:`OutputError`);
:func:`remove_stale_temporaries` deletes what a killed writer left behind;
:data:`READ_ERRORS` is what reading a truncated, corrupted or foreign
``.npz``/zip file raises; :func:`display_path` is a path as text that can be
drawn or printed whatever bytes its name holds, and
:func:`write_undecodable_names` lets the standard output print such paths.
"""
import logging
import os
import sys
import tempfile
import traceback
import zipfile
import zlib

from recurrent_sim.utils.failures import output_error

logger = logging.getLogger(__name__)

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

    The data go to a temporary file in the same folder, are flushed to disk,
    then renamed over ``path``. A failure of the operating system (disk
    full, read-only, permission, name too long) removes the temporary file
    and raises :class:`OutputError` naming ``path`` and the system's reason.
    """
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path)[:200] + ".", suffix=".tmp", dir=folder)
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
    except BaseException as error:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        failure = output_error(error, path)
        if failure is not None:
            raise failure from None
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on folders
        pass


def remove_stale_temporaries(folder, prefix=""):
    """Delete the temporary files that :func:`atomic_write` calls killed
    mid-way (SIGKILL, power loss) left in ``folder`` for files whose name
    starts with ``prefix``; returns their paths. Finished files are untouched.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in os.listdir(folder):
        if name.startswith("." + prefix) and name.endswith(".tmp"):
            path = os.path.join(folder, name)
            os.unlink(path)
            removed.append(path)
    if removed:
        logger.info("removed %d unfinished temporary file(s) in %s", len(removed), folder)
    return removed
