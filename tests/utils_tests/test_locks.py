"""One writer per folder: the lock is exclusive across processes, names its holder, and is taken
over when the holder was killed."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from recurrent_sim.utils.locks import LOCK_FILENAME, FolderBusyError, FolderLock
from tests.helpers import REPO

HOLD = """
import sys, time
from recurrent_sim.utils.locks import FolderLock
lock = FolderLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def hold_in_other_process(folder):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=REPO, stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, PYTHONPATH=REPO))
    assert process.stdout.readline().strip() == "held"
    return process


def test_second_writer_is_refused_with_the_holder_named(tmp_path):
    holder = hold_in_other_process(tmp_path / "run")
    try:
        with pytest.raises(FolderBusyError) as refused:
            FolderLock(tmp_path / "run", "--out").acquire()
        message = str(refused.value)
        assert message.startswith(f"--out {tmp_path / 'run'} is being written by process {holder.pid} (")
        assert "wait for it to end or choose another folder" in message and "\n" not in message
        assert os.listdir(tmp_path / "run") == [LOCK_FILENAME]  # the refused writer changed nothing
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path, caplog):
    holder = hold_in_other_process(tmp_path / "run")
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.exists(tmp_path / "run" / LOCK_FILENAME)  # SIGKILL leaves the file, not the lock
    with caplog.at_level("INFO"), FolderLock(tmp_path / "run") as lock:
        assert lock.held
        with open(tmp_path / "run" / LOCK_FILENAME) as f:
            assert json.load(f)["pid"] == os.getpid()
    assert f"took over the lock left by process {holder.pid} (no longer running)" in caplog.text
    assert not os.path.exists(tmp_path / "run" / LOCK_FILENAME)


def test_release_removes_the_lock_and_the_folders_it_created_when_empty(tmp_path):
    with FolderLock(tmp_path / "a" / "b" / "c"):
        assert os.path.isdir(tmp_path / "a" / "b" / "c")
    assert os.listdir(tmp_path) == []
    with FolderLock(tmp_path / "a" / "b"):
        (tmp_path / "a" / "b" / "kept.txt").write_text("x")
    assert os.listdir(tmp_path / "a" / "b") == ["kept.txt"]


def test_nested_locks_of_one_process_and_relock_after_release(tmp_path):
    outer = FolderLock(tmp_path / "run").acquire()
    inner = FolderLock(str(tmp_path / "run") + "/").acquire()  # the same folder, spelled differently
    inner.release()
    assert os.path.exists(tmp_path / "run" / LOCK_FILENAME) and outer.held
    outer.release()
    assert not os.path.exists(tmp_path / "run" / LOCK_FILENAME)
    with FolderLock(tmp_path / "run"):
        pass


def test_a_file_or_an_unwritable_place_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match=r"--out .*file is a file; give a folder"):
        FolderLock(tmp_path / "file", "--out").acquire()
    with pytest.raises(Exception, match=r"--savesim .*: cannot lock it for writing \(Not a directory\)"):
        FolderLock(tmp_path / "file" / "sub", "--savesim").acquire()


def test_lock_is_released_when_the_process_ends_normally(tmp_path):
    code = "import sys; from recurrent_sim.utils.locks import FolderLock; FolderLock(sys.argv[1]).acquire()"
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], cwd=REPO, check=True,
                   env=dict(os.environ, PYTHONPATH=REPO))
    start = time.time()
    with FolderLock(tmp_path / "run"):
        assert time.time() - start < 5
