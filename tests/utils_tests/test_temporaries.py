"""Temporary files of atomic writes: named after their writer's process, removed only when no live
process may still be writing them."""
import os
import subprocess
import sys
import time

import pytest

from recurrent_sim.utils import files
from recurrent_sim.utils.files import STALE_AFTER_SECONDS, atomic_write, remove_stale_temporaries
from tests.helpers import dead_pid


@pytest.fixture
def live_process():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def touch(path, age=0.0):
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04partial")
    if age:
        then = time.time() - age
        os.utime(path, (then, then))
    return str(path)


def test_atomic_write_names_its_temporary_after_its_process(tmp_path):
    seen = []

    def write(f):
        seen.extend(name for name in os.listdir(tmp_path) if name.endswith(".tmp"))
        # while it is written, the owner's own clean-up leaves it alone
        assert remove_stale_temporaries(tmp_path, "simulator.npz") == []
        f.write(b"data")

    atomic_write(tmp_path / "simulator.npz", write)
    assert len(seen) == 1 and seen[0].startswith(f".simulator.npz.{os.getpid()}.")
    assert os.listdir(tmp_path) == ["simulator.npz"] and not files._writing


def test_only_temporaries_no_live_process_writes_are_removed(tmp_path, live_process):
    dead = touch(tmp_path / f".simulator.npz.{dead_pid()}.k2j4_x9a.tmp")
    ours_earlier = touch(tmp_path / f".simulator.npz.{os.getpid()}.a1b2c3d4.tmp")  # same pid, an earlier process
    live = touch(tmp_path / f".simulator.npz.{live_process.pid}.q8w7e6r5.tmp")
    live_but_old = touch(tmp_path / f".log.csv.{live_process.pid}.z0x9c8v7.tmp", age=STALE_AFTER_SECONDS + 60)
    unnamed_new = touch(tmp_path / ".simulator.npz.abc.tmp")  # an earlier version's name: no pid
    unnamed_old = touch(tmp_path / ".simulator.npz.def.tmp", age=STALE_AFTER_SECONDS + 60)
    other_file = touch(tmp_path / f".metrics.csv.{dead_pid()}.m1n2b3v4.tmp")
    not_temporary = touch(tmp_path / "simulator.npz")
    removed = remove_stale_temporaries(tmp_path, ("simulator.npz", "log."))
    assert sorted(removed) == sorted([dead, ours_earlier, live_but_old, unnamed_old])
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p) for p in
                                                  (live, unnamed_new, other_file, not_temporary))
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_a_killed_savesim_write_is_removed_when_a_run_saves_there_again(tmp_path):
    """A run killed while saving to --savesim left a partial temporary: the next run writing there removes it."""
    from recurrent_sim.training import make_optimizer
    from recurrent_sim.training.trainer import SimulatorTrainer
    from tests.helpers import small_simulator

    left = touch(tmp_path / f".simulator.npz.{dead_pid()}.k2j4_x9a.tmp")
    other = touch(tmp_path / f".other.npz.{dead_pid()}.k2j4_x9a.tmp")
    simulator = small_simulator()
    SimulatorTrainer(simulator, make_optimizer(simulator), buffer=None, savesim=str(tmp_path))
    assert not os.path.exists(left) and os.listdir(tmp_path) == [os.path.basename(other)]
