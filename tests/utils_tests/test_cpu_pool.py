"""Chunks spread over threads, BLAS held to one thread meanwhile."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from recurrent_sim.utils import cpu_pool


@pytest.fixture
def two_cpus(monkeypatch):
    monkeypatch.setattr(cpu_pool, "usable_cpus", lambda: 2)


@pytest.mark.parametrize(
    "variables, expected",
    [({"OPENBLAS_NUM_THREADS": "1"}, 1), ({"OPENBLAS_NUM_THREADS": "2"}, 2), ({"OPENBLAS_NUM_THREADS": "8"}, 2),
     ({"OMP_NUM_THREADS": "1"}, 1), ({}, 2), ({"OPENBLAS_NUM_THREADS": "x", "OMP_NUM_THREADS": "1"}, 1)],
)
def test_worker_count_follows_the_blas_threads(variables, expected, two_cpus, monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert cpu_pool.worker_count() == expected


def test_map_chunks_keeps_the_order_and_uses_the_threads(two_cpus):
    names = set()
    both_running = threading.Barrier(2, timeout=10)

    def square(i):
        names.add(threading.current_thread().name)
        if i < 2:
            both_running.wait()  # chunks 0 and 1 can only both pass when two threads run them
        return i * i

    assert cpu_pool.map_chunks(square, 7, workers=2) == [i * i for i in range(7)]
    assert len(names) == 2


def test_one_worker_runs_in_the_calling_thread():
    names = []
    cpu_pool.map_chunks(lambda i: names.append(threading.current_thread().name), 3, workers=1)
    assert names == [threading.current_thread().name] * 3


def test_nested_calls_run_inline_and_errors_propagate(two_cpus):
    inner = cpu_pool.map_chunks(lambda i: cpu_pool.map_chunks(lambda j: i * 10 + j, 3, workers=2), 4, workers=2)
    assert inner == [[i * 10 + j for j in range(3)] for i in range(4)]

    def fail(i):
        if i == 3:
            raise RuntimeError("chunk 3 failed")
        return i

    with pytest.raises(RuntimeError, match="chunk 3"):
        cpu_pool.map_chunks(fail, 6, workers=2)


def blas_threads():
    """Thread counts of numpy's BLAS libraries (skips the test where numpy's BLAS is not found)."""
    libraries = cpu_pool.numpy_blas().lib_controllers
    if not libraries:
        pytest.skip("numpy's BLAS is not found here")
    return [library.num_threads for library in libraries]


def test_single_blas_thread_restores_the_count():
    blas_threads()
    with cpu_pool.numpy_blas().limit(limits=2, user_api="blas"):
        with cpu_pool.single_blas_thread():
            assert set(blas_threads()) == {1}
            a = np.ones((64, 64), np.float32)
            assert (a @ a == 64).all()
        assert set(blas_threads()) == {2}


def test_a_nested_hold_leaves_the_outer_one_in_place():
    blas_threads()
    with cpu_pool.numpy_blas().limit(limits=2, user_api="blas"):
        with cpu_pool.single_blas_thread():
            with cpu_pool.single_blas_thread():
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}


HOLDS_FROM_THREADS = """
import threading
from recurrent_sim.utils import cpu_pool

def hold():
    with cpu_pool.single_blas_thread():
        seen.append([library.num_threads for library in cpu_pool.numpy_blas().lib_controllers])

seen = []
hold()
thread = threading.Thread(target=hold)
thread.start()
thread.join()
hold()
print(seen, [library.num_threads for library in cpu_pool.numpy_blas().lib_controllers])
"""


def test_a_hold_works_from_any_thread():
    """A process started with two BLAS threads holds them to one from the main thread, then from another
    thread, then from the main thread again, and keeps two outside."""
    counts = len(blas_threads())
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2")
    result = subprocess.run([sys.executable, "-c", HOLDS_FROM_THREADS], env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{[[1] * counts] * 3} {[2] * counts}"


@pytest.mark.parametrize("active, threads, expected", [(True, "2", 1), (False, "2", 2), (True, "1", 2)])
def test_fast_path_threads_hold_blas_only_on_the_fast_path_with_workers(active, threads, expected, two_cpus,
                                                                         monkeypatch):
    blas_threads()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", threads)
    with cpu_pool.numpy_blas().limit(limits=2, user_api="blas"):
        with cpu_pool.fast_path_threads(active):
            assert set(blas_threads()) == {expected}
        assert set(blas_threads()) == {2}


def test_a_forked_child_gets_threads_of_its_own(two_cpus):
    assert cpu_pool.map_chunks(lambda i: i, 4, workers=2) == [0, 1, 2, 3]  # the parent's pool exists
    pid = os.fork()
    if pid == 0:  # child: the parent's pool threads are not here; a hang would fail the test by timeout
        ok = cpu_pool.map_chunks(lambda i: i + 1, 4, workers=2) == [1, 2, 3, 4]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
