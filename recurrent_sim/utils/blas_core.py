"""Which kernels the OpenBLAS under numpy runs, for the record of a measurement.

numpy's wheels bundle OpenBLAS built for many CPUs at once; when numpy is
first imported it picks the kernels of one "core" from the CPU, unless the
environment variable ``OPENBLAS_CORETYPE`` names one. The choice matters:
on the AMD EPYC (AVX-512) of docs/speed.md its own choice, ``Cooperlake``
(AVX-512), multiplies float32 matrices at about 235 GFLOP/s per core, the
AVX2 kernels that ``OPENBLAS_CORETYPE=Haswell`` forces at about 125.
:func:`openblas_core` reads the name back from the library, so a timing
says which kernels gave it.
"""
import ctypes
from typing import Optional

CORE_VARIABLE = "OPENBLAS_CORETYPE"


def openblas_core() -> Optional[str]:
    """Name of the kernels the OpenBLAS loaded in this process runs (e.g. ``"Cooperlake"``), or None if unknown.

    Asks the library itself (``openblas_get_corename``), found among the
    files mapped into the process (Linux); imports numpy, which loads it.
    """
    import numpy  # NOQA  (loads its OpenBLAS)

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None
