"""Memory the machine can give, and refusing what cannot fit before allocating it.

Commands estimate what they will allocate (the simulator's parameters,
optimizer state and the activations of one batch; the sample buffer; the
agent) and call :func:`check_fits` before building anything, so that a size
that cannot fit is refused at once in one line with the estimate and the
memory available, instead of swapping for minutes or failing with
``Unable to allocate``. Sizes that fit but are large are announced in the
log before the allocation starts.
"""
import logging
import os

from recurrent_sim.utils.errors import UserError

logger = logging.getLogger(__name__)

ANNOUNCE_BYTES = 1 << 30  # estimates from 1 GiB on are logged before allocating
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
CGROUP_USAGE = ("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory/memory.usage_in_bytes")


class MemoryTooSmallError(UserError):
    """What a command would allocate exceeds the memory available."""


def format_bytes(n) -> str:
    """'1.5 GiB' for 1.5 * 2**30."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def _read_int(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text.isdigit() else None
    except OSError:
        return None


def available_memory() -> int:
    """Bytes of memory this process can still take: the system's MemAvailable,
    lowered to the room left under a cgroup (container) limit when there is one."""
    available = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_path, usage_path in zip(CGROUP_LIMITS, CGROUP_USAGE):
        limit, usage = _read_int(limit_path), _read_int(usage_path)
        if limit is not None and usage is not None and limit < (1 << 60):
            available = min(available, max(limit - usage, 0))
    return available


def check_fits(estimate, what, hint="", available=None) -> int:
    """Refuse ``estimate`` bytes for ``what`` when more than the memory available.

    Args:
        estimate: bytes the allocation will take.
        what: what is allocated, with the flags behind it ('the simulator (--hidden-size 15000 ...)').
        hint: what to do, appended to the message ('lower --hidden-size').
        available: bytes available (default: :func:`available_memory`).
    Returns:
        ``estimate``.
    Raises:
        MemoryTooSmallError: in one line with the estimate and the memory available.
    """
    available = available_memory() if available is None else available
    if estimate > available:
        raise MemoryTooSmallError(
            f"{what} needs about {format_bytes(estimate)} of memory, but {format_bytes(available)} "
            f"is available{'; ' + hint if hint else ''}"
        )
    if estimate >= ANNOUNCE_BYTES:
        logger.info("%s: allocating about %s (%s available)", what, format_bytes(estimate), format_bytes(available))
    return estimate
