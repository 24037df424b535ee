"""The OpenBLAS kernels in use are read back from the library."""
import os

import pytest

from recurrent_sim.utils.blas_core import CORE_VARIABLE, openblas_core
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
