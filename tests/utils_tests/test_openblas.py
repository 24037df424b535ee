"""numpy's OpenBLAS is found: its kernels are named, its thread count is held."""
import ctypes
import os

import pytest

from recurrent_sim.utils.cpu_pool import single_blas_thread
from recurrent_sim.utils.openblas import CORE_VARIABLE, openblas_core, openblas_function
from recurrent_sim.utils.system import system_info


def test_the_kernels_in_use_are_named_and_follow_the_environment():
    core = openblas_core()
    if core is None:
        pytest.skip("numpy's BLAS here is not an OpenBLAS that names its kernels")
    assert core and core.isprintable() and core != "Unknown"
    forced = os.environ.get(CORE_VARIABLE)
    if forced:  # a core named in the environment is the one OpenBLAS runs
        assert core.lower() == forced.lower()
    assert system_info()["blas_core"] == core


def test_the_thread_count_functions_are_found_and_work():
    get = openblas_function("openblas_get_num_threads", ctypes.c_int)
    if get is None:
        pytest.skip("numpy's BLAS here is not OpenBLAS")
    before = get()
    with single_blas_thread():
        assert get() == 1
    assert get() == before
    assert openblas_function("no_such_function_of_openblas") is None
