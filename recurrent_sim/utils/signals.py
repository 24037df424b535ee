"""Turn Ctrl-C (SIGINT) and SIGTERM into a request to stop at a safe point.

Long jobs (training, collecting) check :attr:`StopRequest.requested` between
steps, save what they have and return; they are never interrupted half-way
through writing a file. A second signal while the first is being honoured
raises ``KeyboardInterrupt`` at once (files written atomically stay valid).
"""
import logging
import signal
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
