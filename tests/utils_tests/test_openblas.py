"""numpy's OpenBLAS is found through threadpoolctl: its kernels are named, its thread count is held."""
import os

import cv2  # noqa: F401 (opencv's wheel loads an OpenBLAS of its own, which is not numpy's)
import numpy
import pytest
import threadpoolctl

from recurrent_sim.utils import cpu_pool
from recurrent_sim.utils.system import system_info


def numpy_openblas():
    """threadpoolctl's controller of numpy's OpenBLAS (skips the test where numpy has none)."""
    libraries = [library for library in cpu_pool.numpy_blas().lib_controllers if library.internal_api == "openblas"]
    if not libraries:
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    return libraries[0]


def test_the_kernels_in_use_are_named_and_follow_the_environment():
    core = system_info()["blas_core"]
    if core is None:
        pytest.skip("numpy's BLAS here is not an OpenBLAS that names its kernels")
    assert core.isprintable() and core not in ("", "Unknown")
    assert core == numpy_openblas().architecture
    forced = os.environ.get("OPENBLAS_CORETYPE")
    if forced:  # a core named in the environment is the one OpenBLAS runs
        assert core.lower() == forced.lower()


def test_only_numpys_blas_is_held():
    held = cpu_pool.numpy_blas().lib_controllers
    others = [pool for pool in threadpoolctl.threadpool_info()
              if pool["user_api"] == "blas" and pool["filepath"] not in {library.filepath for library in held}]
    wheel = os.path.dirname(numpy.__file__)
    if not held or not held[0].filepath.startswith(wheel):
        pytest.skip("numpy here does not bring its own BLAS")
    assert all(library.filepath.startswith(wheel) for library in held)
    before = [pool["num_threads"] for pool in others]
    with cpu_pool.numpy_blas().limit(limits=2, user_api="blas"), cpu_pool.single_blas_thread():
        assert numpy_openblas().num_threads == 1
        other_counts = {pool["filepath"]: pool["num_threads"] for pool in threadpoolctl.threadpool_info()}
        assert [other_counts[pool["filepath"]] for pool in others] == before


def test_the_thread_count_is_held_and_given_back():
    library = numpy_openblas()
    before = library.num_threads
    with cpu_pool.single_blas_thread():
        assert library.num_threads == 1
        assert [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                if pool["filepath"] == library.filepath] == [1]
    assert library.num_threads == before
