"""Memory estimates against the memory available."""
import logging

import pytest

from recurrent_sim.utils.memory import MemoryTooSmallError, available_memory, check_fits, format_bytes


def test_available_memory_is_positive_and_below_the_machine():
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) * 1024
    assert 0 < available_memory() <= total


def test_check_fits_refuses_in_one_line_with_estimate_and_available():
    with pytest.raises(MemoryTooSmallError) as error:
        check_fits(3 * 2**40, "the simulator (--hidden-size 15000)", "lower --hidden-size", available=2**30)
    assert str(error.value) == ("the simulator (--hidden-size 15000) needs about 3.0 TiB of memory, but 1.0 GiB "
                                "is available; lower --hidden-size")


def test_check_fits_announces_large_allocations(caplog):
    with caplog.at_level(logging.INFO):
        assert check_fits(2 * 2**30, "the buffer", available=8 * 2**30) == 2 * 2**30
        assert check_fits(100, "tiny", available=8 * 2**30) == 100
    assert "the buffer: allocating about 2.0 GiB (8.0 GiB available)" in caplog.text
    assert "tiny" not in caplog.text


@pytest.mark.parametrize("n, text", [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 2**50, "5.0 PiB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text
