"""StagedOutputs: a run's outputs replace an earlier run's all at once; what killed runs left is
removed (an unfinished stage) or finished (a complete set cut short while moving in)."""
import gc
import os
import signal
import subprocess
import sys

import pytest

from recurrent_sim.utils.locks import FolderBusyError
from recurrent_sim.utils.run_folder import MOVE_PREFIX, STAGE_PREFIX, StagedOutputs
from recurrent_sim.utils.signals import Terminated, end_on_sigterm, interruption_line, signals_deferred
from tests.helpers import REPO, python_env


def files(folder):
    return {name: open(os.path.join(folder, name)).read() for name in sorted(os.listdir(folder))}


def write(folder, **contents):
    for name, text in contents.items():
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)


def test_commit_replaces_the_staged_names_and_keeps_the_rest(tmp_path):
    write(tmp_path, **{"a.csv": "old a", "b.png": "old b", "notes.txt": "mine"})
    outputs = StagedOutputs(tmp_path)
    assert os.path.dirname(outputs.stage) == str(tmp_path) and os.path.basename(outputs.stage).startswith(STAGE_PREFIX)
    write(outputs.stage, **{"a.csv": "new a", "b.png": "new b"})
    assert open(tmp_path / "a.csv").read() == "old a"  # nothing replaced before the commit
    assert outputs.commit() == str(tmp_path)
    assert files(tmp_path) == {"a.csv": "new a", "b.png": "new b", "notes.txt": "mine"}
    StagedOutputs(tmp_path).commit()  # the folder was released


def test_a_dropped_stage_leaves_the_folder_as_it_was(tmp_path):
    write(tmp_path, **{"a.csv": "old a"})
    outputs = StagedOutputs(tmp_path)
    write(outputs.stage, **{"a.csv": "new a"})
    del outputs
    gc.collect()
    assert files(tmp_path) == {"a.csv": "old a"}


def test_a_missing_folder_is_created_and_removed_again_when_nothing_was_committed(tmp_path):
    outputs = StagedOutputs(tmp_path / "new" / "out")
    assert os.path.isdir(outputs.stage)
    del outputs
    gc.collect()
    assert os.listdir(tmp_path) == []


def test_leftovers_of_killed_runs_are_removed_or_finished(tmp_path):
    write(tmp_path, **{"a.csv": "old a", "b.png": "old b", "c.json": "old c"})
    os.mkdir(tmp_path / (STAGE_PREFIX + "killed"))
    write(tmp_path / (STAGE_PREFIX + "killed"), **{"a.csv": "partial"})
    os.mkdir(tmp_path / (MOVE_PREFIX + "cut"))  # a.csv already moved in, b.png and c.json not yet
    write(tmp_path / (MOVE_PREFIX + "cut"), **{"b.png": "new b", "c.json": "new c"})
    write(tmp_path, **{"a.csv": "new a"})
    StagedOutputs(tmp_path).commit()
    assert files(tmp_path) == {"a.csv": "new a", "b.png": "new b", "c.json": "new c"}


def test_a_second_writer_is_refused(tmp_path):
    code = ("import sys, time; from recurrent_sim.utils.run_folder import StagedOutputs; "
            "o = StagedOutputs(sys.argv[1]); print('staged', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=python_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "staged\n"
        with pytest.raises(FolderBusyError, match="is being written by process"):
            StagedOutputs(tmp_path)
    finally:
        holder.kill()
        holder.wait()


def test_signals_wait_for_the_end_of_a_deferred_block():
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if pytest runs in the background
    with end_on_sigterm():
        with pytest.raises(Terminated) as raised:
            with signals_deferred():
                signal.raise_signal(signal.SIGTERM)
                done = True  # reached: the signal waits
        assert done and interruption_line(raised.value) == ("terminated (SIGTERM)", 143)
        with pytest.raises(KeyboardInterrupt) as raised:
            with signals_deferred():
                signal.raise_signal(signal.SIGINT)
        assert interruption_line(raised.value) == ("interrupted", 130)
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
