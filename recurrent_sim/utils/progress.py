"""A dependency-free progress bar for long jobs.

On a terminal it redraws one line; otherwise (logs, CI) it prints a line
every ``min_interval`` seconds, so long jobs stay visible without flooding.
"""
import io
import sys
import time


class Progress:
    """Progress over ``total`` units (steps, frames, sequences).

    Usage::

        with Progress(total, "training") as bar:
            for ...:
                bar.update(1, error=0.01)
    """

    def __init__(self, total, description="", stream=None, min_interval=None, unit="it", quiet=False):
        self.total = int(total) if total else None
        self.description = description
        self.quiet = quiet  # count, print nothing (e.g. the ranks but rank 0 of a data-parallel run)
        self.stream = io.StringIO() if quiet else (stream or sys.stderr)
        self.is_tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.min_interval = min_interval if min_interval is not None else (0.2 if self.is_tty else 10.0)
        self.unit = unit
        self.count = 0
        self.start = time.time()
        self._last_print = 0.0
        self._printed_count = None
        self.fields = {}

    @property
    def rate(self) -> float:
        """Units per second since the start."""
        return self.count / max(time.time() - self.start, 1e-9)

    def update(self, n=1, **fields):
        """Advance by ``n`` units; ``fields`` are shown as ``name=value``."""
        self.count += n
        self.fields.update(fields)
        now = time.time()
        if now - self._last_print >= self.min_interval or (self.total and self.count >= self.total):
            self._last_print = now
            self._print()

    def line(self) -> str:
        elapsed = time.time() - self.start
        parts = [self.description] if self.description else []
        if self.total:
            frac = min(self.count / self.total, 1.0)
            filled = int(frac * 20)
            parts.append(f"[{'#' * filled}{'.' * (20 - filled)}] {self.count}/{self.total}")
            if self.count:
                remaining = elapsed / self.count * (self.total - self.count)
                parts.append(f"eta {remaining:.0f}s")
        else:
            parts.append(str(self.count))
        parts.append(f"{self.rate:.1f} {self.unit}/s")
        for name, value in self.fields.items():
            parts.append(f"{name}={value:.5g}" if isinstance(value, float) else f"{name}={value}")
        return " ".join(parts)

    def _print(self):
        self._printed_count = self.count
        if self.quiet:
            return
        if self.is_tty:
            self.stream.write("\r" + self.line() + "\033[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self):
        """Print the final state (unless just printed) and end the line."""
        if self.quiet:
            return
        if self._printed_count != self.count:
            self._print()
        if self.is_tty:
            self.stream.write("\n")
        self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
