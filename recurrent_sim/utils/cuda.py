"""Whether CUDA is usable, and the CUDA 12 libraries of NVIDIA's pip wheels.

CuPy 13 (the GPU backend of Chainer; ``pip install -e .[gpu]``) is built
against the CUDA 12 libraries (``libcublas.so.12``, ``libnvrtc.so.12``,
``libcudnn.so.8`` ...) but does not ship them and does not look for them in
NVIDIA's pip wheels (``nvidia-cublas-cu12`` ...), which install them under
``site-packages/nvidia/<library>/lib``. :func:`preload_cuda_wheels` loads
those files once, globally, before CuPy is imported (``recurrent_sim``
calls it on import), so a machine with only an NVIDIA driver runs on the
GPU after ``pip install -e .[gpu]``. Where the wheels are not installed it
does nothing.

:func:`cuda_problem` says in words what keeps ``--gpu N`` from working
(no CuPy, a CUDA library CuPy cannot load, no cuDNN, no driver or device);
:func:`require_cuda` turns that into a one-line error naming the ``gpu`` setting.
"""
import ctypes
import glob
import logging
import os
import re
import sys

from recurrent_sim.utils.settings import SettingError

logger = logging.getLogger(__name__)

# Library folders of NVIDIA's CUDA 12 wheels, in load order (dependencies first).
WHEEL_LIBRARIES = (
    "cuda_runtime", "cuda_nvrtc", "nvjitlink", "cublas", "cufft", "curand", "cusparse", "cusolver", "cudnn",
)
_preloaded = []


def _wheel_library_files():
    """Shared libraries of the installed ``nvidia-*-cu12`` wheels, in load order."""
    files = []
    for root in sys.path:
        base = os.path.join(root or ".", "nvidia")
        if not os.path.isdir(base):
            continue
        for name in WHEEL_LIBRARIES:
            files.extend(sorted(glob.glob(os.path.join(base, name, "lib", "lib*.so*"))))
    return files


def preload_cuda_wheels():
    """Load the CUDA libraries of NVIDIA's pip wheels globally; returns the files loaded.

    Must run before CuPy is imported to help it (the dynamic loader then
    resolves ``libcublas.so.12`` and the others to the loaded copies). A
    file that fails to load (a missing dependency) is tried again after the
    others; what still fails is left to CuPy's own error.
    """
    if _preloaded:
        return list(_preloaded)
    pending = _wheel_library_files()
    for _ in range(3):
        failed = []
        for path in pending:
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                _preloaded.append(path)
            except OSError:
                failed.append(path)
        if not failed or len(failed) == len(pending):
            pending = failed
            break
        pending = failed
    for path in pending:
        logger.debug("could not preload %s", path)
    return list(_preloaded)


def _missing_library(error) -> str:
    """The shared library an import error names (``libcublas.so.12``), or the error's first line."""
    text = str(error)
    match = re.search(r"(lib[\w.+-]+\.so(?:\.\d+)*)", text)
    if match:
        return f"CuPy cannot load {match.group(1)}"
    if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] == "cupy":
        return "CuPy is not installed"
    return f"CuPy does not import ({type(error).__name__}: {text.splitlines()[0] if text else ''})"


def cuda_problem(gpu: int):
    """What keeps CUDA device ``gpu`` from being used, in words; None when it is usable.

    Checks, in order: CuPy imports with its CUDA libraries (cuBLAS, NVRTC ...),
    cuDNN loads (unless disabled with ``CHAINER_CUDNN=0``), a driver answers
    and device ``gpu`` exists.
    """
    from chainer.backends import cuda

    if not cuda.available:
        return _missing_library(getattr(cuda, "_resolution_error", None) or "CuPy does not import")
    if not cuda.cudnn_enabled and not getattr(cuda, "_cudnn_disabled_by_user", False):
        error = getattr(cuda, "_resolution_error", None)
        found = re.search(r"(libcudnn[\w.]*\.so(?:\.\d+)*)", str(error or ""))
        return f"cuDNN cannot be loaded ({found.group(1) if found else 'libcudnn.so.8'})"
    try:
        count = cuda.cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, no device
        return f"no usable CUDA driver or device ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
    if count == 0:
        return "no CUDA device found"
    if gpu >= count:
        return f"there is no CUDA device {gpu} ({count} found: 0..{count - 1})"
    return None


def require_cuda(gpu):
    """Raise :class:`SettingError` (``gpu``) when ``gpu`` >= 0 and CUDA device ``gpu`` is not usable."""
    if gpu is None or gpu < 0:
        return
    problem = cuda_problem(gpu)
    if problem:
        raise SettingError(
            "gpu",
            f"{{flag}} {gpu}: CUDA is not usable: {problem}; install the GPU extra "
            f"(pip install -e .[gpu]) on a machine with an NVIDIA driver, or use {{flag}} -1 for the CPU",
        )
