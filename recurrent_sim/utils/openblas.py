"""numpy's OpenBLAS: the library itself, and which kernels it runs.

numpy's wheels bundle OpenBLAS (``numpy.libs/libopenblas*.so``) built for
many CPUs at once; when numpy is first imported it picks the kernels of one
"core" from the CPU, unless the environment variable ``OPENBLAS_CORETYPE``
names one. The choice matters: on the AMD EPYC (AVX-512) of docs/speed.md
its own choice, ``Cooperlake`` (AVX-512), multiplies float32 matrices at
about 235 GFLOP/s per core, the AVX2 kernels that
``OPENBLAS_CORETYPE=Haswell`` forces at about 125. :func:`openblas_core`
reads the name back from the library, so a timing says which kernels gave
it; :func:`openblas_function` gives :mod:`recurrent_sim.utils.cpu_pool` its
thread-count functions.
"""
import ctypes
import glob
import os
from typing import Optional

import numpy as np

CORE_VARIABLE = "OPENBLAS_CORETYPE"
# Symbol suffixes of OpenBLAS builds: numpy's 64-bit-integer build, plain, others.
SUFFIXES = ("64_", "", "_64")
_libraries = None


def openblas_libraries() -> list:
    """The OpenBLAS libraries bundled with numpy, loaded (ctypes CDLLs; empty where there are none)."""
    global _libraries
    if _libraries is None:
        _libraries = []
        folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        for path in sorted(glob.glob(os.path.join(folder, "libopenblas*.so*"))):
            try:
                _libraries.append(ctypes.CDLL(path))
            except OSError:
                continue
    return _libraries


def openblas_function(name: str, restype=None, argtypes=None):
    """Function ``name`` (e.g. ``"openblas_get_num_threads"``) of numpy's OpenBLAS, under whichever
    symbol suffix the build uses, with its ctypes types set; None where it is not found."""
    for library in openblas_libraries():
        for suffix in SUFFIXES:
            function = getattr(library, name + suffix, None)
            if function is not None:
                function.restype = restype
                if argtypes is not None:
                    function.argtypes = argtypes
                return function
    return None


def openblas_core() -> Optional[str]:
    """Name of the kernels numpy's OpenBLAS runs (e.g. ``"Cooperlake"``, ``"Haswell"``), or None if unknown."""
    function = openblas_function("openblas_get_corename", ctypes.c_char_p)
    return None if function is None else function().decode()
