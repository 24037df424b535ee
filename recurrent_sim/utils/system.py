"""The machine a run happens on: package versions, threads, device, peak memory."""
import importlib.metadata
import os
import platform
import resource

from threadpoolctl import threadpool_info

from recurrent_sim.utils.cpu_pool import numpy_blas

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


PACKAGES = (
    ("numpy", ("numpy",)),
    ("chainer", ("chainer",)),
    ("chainerrl", ("chainerrl",)),
    ("gym", ("gym",)),
    ("ale_py", ("ale-py",)),
    ("cupy", ("cupy-cuda12x", "cupy-cuda11x", "cupy")),
    ("tensorboardX", ("tensorboardX",)),
    ("recurrent_sim", ("recurrent_sim",)),
)


def package_versions() -> dict:
    """Installed versions of Python and the packages a run depends on (None for a missing one)."""
    versions = {"python": platform.python_version()}
    for key, distributions in PACKAGES:
        versions[key] = None
        for distribution in distributions:
            try:
                versions[key] = importlib.metadata.version(distribution)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def system_info(gpu=-1) -> dict:
    """Versions, thread settings, the OpenBLAS kernels in use (``blas_core``) and device, for the record of a run."""
    info = package_versions()
    info.update(
        cpu_count=os.cpu_count(),
        cpus_usable=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        threads={name: os.environ.get(name) for name in THREAD_VARIABLES},
        device="cpu" if gpu < 0 else f"cuda:{gpu}",
    )
    info["blas"] = [{"api": pool.get("internal_api"), "threads": pool.get("num_threads")} for pool in threadpool_info()]
    # the kernels numpy's OpenBLAS runs (e.g. "Cooperlake", "Haswell"; OPENBLAS_CORETYPE forces them), or None
    info["blas_core"] = next((blas.architecture for blas in numpy_blas().lib_controllers if blas.internal_api == "openblas"), None)
    return info


def peak_memory_mib() -> float:
    """Peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
