"""Failures of the operating system on output: one line with the path and the reason, no temporary
file left, the previous file intact. A real full disk (a small tmpfs) where the test may mount one,
injected errors otherwise."""
import errno
import gc
import os
import subprocess
import sys

import numpy as np
import pytest

from recurrent_sim.training import load_checkpoint, save_checkpoint
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.failures import OutputError, append_text, failure_line, find_os_error
from recurrent_sim.utils.files import atomic_write
from recurrent_sim.utils.finite import NonFiniteError


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 2 MiB tmpfs mounted on a fresh folder; skipped where mounting is not allowed."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                            capture_output=True)
    if result.returncode != 0:
        pytest.skip("cannot mount a tmpfs here; the injected ENOSPC tests cover this")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=False)


def test_real_full_disk_keeps_the_previous_checkpoint(small_tmpfs, tiny_simulator, unraisable):
    path = save_checkpoint(small_tmpfs / "sim", tiny_simulator)
    before = open(path, "rb").read()
    stat = os.statvfs(small_tmpfs)
    (small_tmpfs / "filler").write_bytes(b"\1" * (stat.f_bavail * stat.f_frsize - len(before) // 2))
    with pytest.raises(OutputError) as error:
        save_checkpoint(small_tmpfs / "sim", tiny_simulator, metadata={"padding": "x" * 50000})
    assert str(error.value).startswith(f"cannot write {path}: No space left on device")
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(small_tmpfs / "sim")) == ["simulator.npz"]
    assert load_checkpoint(path).config == tiny_simulator.config
    assert unraisable == []  # no 'Exception ignored ... seek of closed file' afterwards


@pytest.fixture
def unraisable(monkeypatch):
    """Exceptions Python could only print as 'Exception ignored' (e.g. in __del__) during the test."""
    caught = []
    monkeypatch.setattr(sys, "unraisablehook", lambda report: caught.append(report.exc_value))
    yield caught
    gc.collect()


def test_injected_full_disk_in_numpy_savez_is_one_line(tmp_path, tiny_simulator, monkeypatch, unraisable):
    path = save_checkpoint(tmp_path / "sim", tiny_simulator)
    before = open(path, "rb").read()
    real_write = os.write

    class FullDisk:
        """A file object whose writes fail like a full disk after a few bytes."""

        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 1000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

    real_savez = np.savez
    monkeypatch.setattr(np, "savez", lambda f, **arrays: real_savez(FullDisk(f), **arrays))
    with pytest.raises(OutputError) as error:
        save_checkpoint(tmp_path / "sim", tiny_simulator)
    assert str(error.value) == f"cannot write {path}: No space left on device (free some space or write elsewhere)"
    assert isinstance(error.value.error, OSError) and real_write
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path / "sim") == ["simulator.npz"]
    gc.collect()
    assert unraisable == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EDQUOT])
def test_injected_errors_at_the_temporary_file(tmp_path, monkeypatch, code):
    (tmp_path / "f.json").write_text("old")
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / ".f.json.x.tmp"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match=rf"^cannot write {tmp_path / 'f.json'}: {os.strerror(code)}"):
        atomic_write(str(tmp_path / "f.json"), lambda f: f.write(b"new"))
    assert (tmp_path / "f.json").read_text() == "old"


def test_name_too_long_and_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="File name too long"):
        atomic_write(str(tmp_path / ("x" * 300)), lambda f: f.write(b"data"))
    with pytest.raises(OutputError, match=r"cannot write .*/nowhere/f: No such file or directory"):
        atomic_write(str(tmp_path / "nowhere" / "f"), lambda f: f.write(b"data"))
    assert os.listdir(tmp_path) == []


def test_a_bug_in_the_writer_keeps_its_traceback_and_removes_the_temporary(tmp_path):
    with pytest.raises(ZeroDivisionError):
        atomic_write(str(tmp_path / "f"), lambda f: 1 / 0)
    assert os.listdir(tmp_path) == []


def test_append_text_cuts_a_half_written_line(tmp_path, monkeypatch):
    log = tmp_path / "log.csv"
    append_text(log, "a,b\n")
    append_text(log, "1,2\n")
    from recurrent_sim.utils import failures

    real_open = open

    class HalfWrite:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[:2])
            self.f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(failures, "open", lambda path, mode="r", **kw: HalfWrite(real_open(path, mode, **kw)),
                        raising=False)
    with pytest.raises(OutputError, match="No space left on device"):
        append_text(log, "3,4\n")
    monkeypatch.undo()
    assert log.read_text() == "a,b\n1,2\n"


def test_failure_line_classifies_and_keeps_one_line():
    assert failure_line(UserError("bad\nflag")) == ("bad flag", 2)
    assert failure_line(NonFiniteError("not saved")) == ("not saved", 1)
    assert failure_line(MemoryError()) == ("out of memory (allocation failed); use smaller sizes", 1)
    assert failure_line(PermissionError(errno.EACCES, "Permission denied", "/x")) == (
        "cannot use /x: Permission denied", 1)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/d/f")
        except OSError:
            raise ValueError("seek of closed file")
    except ValueError as error:
        assert find_os_error(error).errno == errno.ENOSPC
        assert failure_line(error)[0].startswith("cannot write /d/f: No space left on device")
    assert failure_line(ZeroDivisionError()) is None
