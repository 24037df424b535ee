"""Batch chunks spread over a few threads, with the BLAS library held to one thread meanwhile.

The fast CPU kernels (:mod:`recurrent_sim.models.fast_conv_kernels`) work
chunk by chunk of a batch. :func:`map_chunks` hands the chunks out to
:func:`worker_count` threads, each taking the next chunk when it is done
with one; numpy releases the interpreter lock inside matrix products,
copies and element-wise operations, so the threads compute at the same
time. This is coarser than letting OpenBLAS split every matrix product:
one hand-over per chunk of a few megabytes instead of one per product,
and every copy and addition of a chunk runs in parallel too. Because each
thread takes the next chunk when it is free, a thread that waits for a
busy core (a machine shared with other jobs) delays nothing: the others
take its share. While the chunks run, OpenBLAS is held to one thread per
call (:func:`single_blas_thread`, through threadpoolctl), so its own
threads neither compete with them nor spin.

The thread count is the BLAS thread count the process was started with
(``OPENBLAS_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the usable
CPUs), at most the usable CPUs: one thread runs everything in the calling
thread, exactly as before.
"""
import concurrent.futures
import contextlib
import logging
import os
import threading

import numpy
import threadpoolctl

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pool = None  # (process id, ThreadPoolExecutor)
_inside = threading.local()  # .active: this thread is running chunks of a map_chunks call
_blas = None  # threadpoolctl's controllers of numpy's BLAS, found once


def usable_cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_count() -> int:
    """Threads :func:`map_chunks` uses: the configured BLAS threads, at most the usable CPUs (>= 1)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return max(1, min(int(value), usable_cpus()))
    return usable_cpus()


def numpy_blas() -> threadpoolctl.ThreadpoolController:
    """threadpoolctl's controller of the BLAS numpy calls, made once per process: the libraries in numpy's
    own folders (the OpenBLAS of numpy's wheels), else every BLAS loaded (a numpy linked with a system
    BLAS). Each of its ``lib_controllers`` has ``num_threads``, ``internal_api`` (``"openblas"``) and,
    for OpenBLAS, ``architecture`` (its kernels, e.g. ``"Haswell"``); none where no BLAS is found."""
    global _blas
    if _blas is None:  # the scan of the loaded libraries takes milliseconds: once per process
        libraries = threadpoolctl.ThreadpoolController().select(user_api="blas")
        folder = os.path.dirname(numpy.__file__)  # .../numpy; a wheel's libraries are in .../numpy.libs
        own = [library.filepath for library in libraries.lib_controllers if library.filepath.startswith(folder)]
        _blas = libraries.select(filepath=own) if own else libraries
        if not _blas.lib_controllers:
            logger.debug("numpy's BLAS not found: its thread count is left alone")
    return _blas


@contextlib.contextmanager
def single_blas_thread():
    """Hold numpy's BLAS (OpenBLAS) to one thread inside the block (nothing happens where it is not found)."""
    blas = numpy_blas()
    if all(library.num_threads == 1 for library in blas.lib_controllers):  # held already (nested), or none
        yield
        return
    with blas.limit(limits=1, user_api="blas"):
        yield


def fast_path_threads(active=True):
    """Context for a whole step of the fast CPU path: OpenBLAS held to one thread when ``active``
    and several worker threads are configured (else nothing happens).

    The chunked kernels and the split LSTM step bring their own
    parallelism; what remains (small products, fully connected layers) costs
    more on OpenBLAS's threads, which spin and wait for each other, than it
    gains, above all on a machine shared with other jobs.
    """
    if active and worker_count() > 1:
        return single_blas_thread()
    return contextlib.nullcontext()


def _executor(workers):
    """The shared thread pool, (re)made when too small or inherited through a fork (whose child has
    none of the parent's threads)."""
    global _pool
    with _lock:
        if _pool is None or _pool[0] != os.getpid() or _pool[1]._max_workers < workers:
            executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="recurrent_sim_chunks")
            _pool = (os.getpid(), executor)
        return _pool[1]


def map_chunks(function, count, workers=None):
    """``[function(i) for i in range(count)]``, the calls spread over threads.

    ``function`` must be safe to run on several chunks at once (each writes
    only its own part of a shared output). With one worker, one chunk, or
    inside a chunk of another call, everything runs in the calling thread.
    Exceptions propagate.
    """
    workers = min(worker_count() if workers is None else workers, count)
    if workers <= 1 or getattr(_inside, "active", False):
        return [function(i) for i in range(count)]
    results = [None] * count
    next_chunk = iter(range(count))
    chunk_lock = threading.Lock()

    def drain():
        _inside.active = True
        try:
            while True:
                with chunk_lock:
                    i = next(next_chunk, None)
                if i is None:
                    return
                results[i] = function(i)
        finally:
            _inside.active = False

    pool = _executor(workers - 1)
    with single_blas_thread():
        helpers = [pool.submit(drain) for _ in range(workers - 1)]
        try:
            drain()
        finally:
            for helper in helpers:
                helper.result()
    return results
