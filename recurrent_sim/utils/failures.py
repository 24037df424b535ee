"""Every failure a command can meet, as one line and an exit status.

:func:`failure_line` turns an exception into ``(message, exit status)`` for
the command lines: errors a user caused (:class:`UserError`, status 2), values
that were not finite and so not saved (:class:`NonFiniteError`, status 1),
operating-system errors (disk full, read-only file system, no permission,
name too long: status 1, with the path and the system's reason) and memory
exhaustion (status 1). Anything else is a bug and keeps its traceback.

:class:`OutputError` is what a failed write raises once its temporary files
are removed: one line with the path and the system's reason.
"""
import errno
import os
import sys

from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.finite import NonFiniteError


# Errors that can only come from writing.
WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG)


class OutputError(Exception):
    """Writing a file failed (disk full, read-only, permission, name too long).

    The previous file, if any, is intact and no temporary file is left.
    ``error`` is the underlying :class:`OSError`.
    """

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error


def describe_os_error(error: OSError, path=None, action="write") -> str:
    """'cannot write PATH: No space left on device' for an OSError."""
    path = path or error.filename or "?"
    reason = error.strerror or str(error) or type(error).__name__
    if error.errno == errno.ENOSPC:
        reason += " (free some space or write elsewhere)"
    return f"cannot {action} {os.fspath(path)}: {reason}"


def find_os_error(error):
    """The OSError ``error`` is or was raised while handling (e.g. the ENOSPC
    behind numpy's 'seek of closed file'), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__context__ or error.__cause__
    return None


def output_error(error, path):
    """An :class:`OutputError` for a write of ``path`` that failed with ``error``, or None when
    ``error`` does not come from the operating system (then it should propagate as it is)."""
    if isinstance(error, OutputError):
        return error
    os_error = find_os_error(error)
    if os_error is None:
        return None
    return OutputError(describe_os_error(os_error, path), os_error)


def append_text(path, text):
    """Append ``text`` to the file ``path``; on failure the file is cut back to its previous
    length (no half-written line) and :class:`OutputError` is raised."""
    size = os.path.getsize(path) if os.path.exists(path) else None
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
    except OSError as error:
        if size is not None:
            try:
                os.truncate(path, size)
            except OSError:
                pass
        raise OutputError(describe_os_error(error, path), error) from None


def failure_line(error):
    """``(one-line message, exit status)`` for an expected failure, or None for a bug."""
    found = _classify(error)
    if found is None:
        return None
    message, status = found
    return " ".join(message.split()), status


def _classify(error):
    if isinstance(error, UserError):
        return str(error), 2
    if isinstance(error, (NonFiniteError, OutputError)):
        return str(error), 1
    if isinstance(error, MemoryError):
        return f"out of memory ({str(error) or 'allocation failed'}); use smaller sizes", 1
    os_error = find_os_error(error)
    if os_error is not None:
        if os_error.errno in WRITE_ERRNOS:
            action = "write"
        else:
            action = "read" if os_error.errno == errno.ENOENT else "use"
        return describe_os_error(os_error, action=action), 1
    return None


def report_failure(prog, error) -> int:
    """Print ``error`` as ``PROG: error: MESSAGE`` on stderr and return its exit status; re-raise a bug.

    Call it from an ``except Exception`` of a command line's entry point.
    """
    failure = failure_line(error)
    if failure is None:
        raise error
    print(f"{prog}: error: {failure[0]}", file=sys.stderr)
    return failure[1]
