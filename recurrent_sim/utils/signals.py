"""Turn Ctrl-C (SIGINT) and SIGTERM into a request to stop at a safe point.

Long jobs (training, collecting) check :attr:`StopRequest.requested` between
steps, save what they have and return; they are never interrupted half-way
through writing a file. A second signal while the first is being honoured
raises ``KeyboardInterrupt`` at once (files written atomically stay valid).

Elsewhere the command lines end on either signal with one line
(:func:`interruption_line`): Ctrl-C raises ``KeyboardInterrupt`` (exit status
130) and SIGTERM :class:`Terminated`, a ``KeyboardInterrupt`` too (143), inside
:func:`end_on_sigterm`, so clean-up code runs for both.
:func:`signals_deferred` holds both off for a few steps that must all happen
(the renames that replace a set of files).
"""
import contextlib
import logging
import os
import signal
import sys
import threading

logger = logging.getLogger(__name__)

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager that records SIGINT/SIGTERM instead of dying on them.

    Usage::

        with StopRequest() as stop:
            while not stop.requested:
                ...one step...
            if stop.requested:
                return stop.exit_code   # 130 for SIGINT, 143 for SIGTERM

    Outside the main thread signal handlers cannot be installed; the object
    then never reports a request and signals behave as usual.
    """

    def __init__(self, signals=HANDLED_SIGNALS):
        self.signals = tuple(signals)
        self.signum = None
        self._previous = {}

    @property
    def requested(self) -> bool:
        """True once one of the signals has been received."""
        return self.signum is not None

    @property
    def name(self) -> str:
        """Name of the received signal ('SIGINT'), or '' when none was."""
        return signal.Signals(self.signum).name if self.requested else ""

    @property
    def exit_code(self) -> int:
        """The shell convention for a job ended by the signal: 128 + its number."""
        return 128 + int(self.signum) if self.requested else 0

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum
        logger.warning(
            "%s received: stopping after the current step (send it again to stop at once)",
            signal.Signals(signum).name,
        )

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc):
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
        return False


class Terminated(KeyboardInterrupt):
    """SIGTERM where no :class:`StopRequest` records it (after :func:`end_on_sigterm`): it unwinds like
    Ctrl-C's ``KeyboardInterrupt``, and the command ends with status 143."""


def _raise_terminated(signum, frame):
    raise Terminated


@contextlib.contextmanager
def end_on_sigterm():
    """Inside the block SIGTERM raises :class:`Terminated` in the main thread, rather than ending the
    process at once, silently, with no clean-up; a :class:`StopRequest` still records it while one is
    active. Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def interruption_line(error: KeyboardInterrupt):
    """``(message, exit status)`` of a command ended by Ctrl-C (130) or SIGTERM (143)."""
    if isinstance(error, Terminated):
        return "terminated (SIGTERM)", 128 + signal.SIGTERM
    return "interrupted", 128 + signal.SIGINT


@contextlib.contextmanager
def signals_deferred(signals=HANDLED_SIGNALS):
    """SIGINT and SIGTERM received inside the block take effect when it ends (the first one, as it
    would have). For a few quick steps that must all happen, such as the renames replacing a set of
    files. Outside the main thread it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum)) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        if received:
            signal.raise_signal(received[0])


def started_as_recurrent_sim() -> bool:
    """Whether this process is the ``recurrent-sim`` command line (``recurrent-sim ...`` or
    ``python -m recurrent_sim ...``; while ``-m`` loads the package, ``sys.argv[0]`` is ``'-m'``)."""
    program = sys.argv[0] if sys.argv else ""
    return program == "-m" or os.path.basename(program) == "recurrent-sim"


@contextlib.contextmanager
def quiet_interrupt_while_loading():
    """Ctrl-C or SIGTERM while modules load (the first second of a command) take effect once they
    are loaded: raised inside an import, ``KeyboardInterrupt`` can come out as another error (numpy's
    "you should not try to import numpy from its source directory"). The command line then ends with
    one line and status 130 or 143 (:func:`interruption_line`), as later on; a program of its own that
    imports the package gets its ``KeyboardInterrupt`` (or its own handler's action) as usual."""
    if not started_as_recurrent_sim():
        with signals_deferred():
            yield
        return
    try:
        with end_on_sigterm(), signals_deferred():
            yield
    except KeyboardInterrupt as e:
        message, status = interruption_line(e)
        print(f"recurrent-sim: {message}", file=sys.stderr)
        raise SystemExit(status) from None
