"""Time budgets of one invocation: wall-clock and processor time."""
import time


class TimeBudget:
    """Limits of ``minutes`` of wall-clock time and ``cpu_minutes`` of processor
    time (of this process, all its threads) from :meth:`start`; 0 means no limit."""

    def __init__(self, minutes=0.0, cpu_minutes=0.0):
        self.minutes, self.cpu_minutes = minutes, cpu_minutes
        self.start()

    def start(self):
        """Start counting now."""
        self.wall_start, self.cpu_start = time.time(), time.process_time()

    @property
    def wall_seconds(self) -> float:
        """Wall-clock seconds since :meth:`start`."""
        return time.time() - self.wall_start

    def spent(self) -> bool:
        """Whether either limit has been reached."""
        return (self.minutes > 0 and self.wall_seconds >= 60.0 * self.minutes) or (
            self.cpu_minutes > 0 and time.process_time() - self.cpu_start >= 60.0 * self.cpu_minutes
        )
