"""--gpu N when CUDA is not usable: one line naming what is missing, exit 2, for every command."""
import types

import pytest
from chainer.backends import cuda

from recurrent_sim.cli import main
from recurrent_sim.utils import cuda as cuda_check
from recurrent_sim.utils.settings import SettingError
from tests.helpers import load_original_script, run_original_script

needs_no_cupy = pytest.mark.skipif(cuda.available, reason="CuPy is installed here")


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@needs_no_cupy
@pytest.mark.parametrize("argv", [
    ["bench", "--quick", "--gpu", "0"],
    ["train", "nodata", "--out", "run", "--gpu", "0"],
    ["evaluate", "--loadtosim", "nosim", "--gpu", "0"],
    ["collect", "--out", "data", "--gpu", "0"],
])
def test_every_command_refuses_gpu_without_cupy(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--gpu 0: CUDA is not usable: CuPy is not installed" in line
    assert "pip install -e .[gpu]" in line
    assert list(tmp_path.iterdir()) == []  # nothing written


@needs_no_cupy
def test_original_script_refuses_gpu_without_cupy(capsys, tmp_path):
    script = load_original_script()
    status, _, err = run_original_script(script, capsys, "1", "--gpu", "0", "--outdir", str(tmp_path / "out"))
    assert status == 2
    assert "CuPy is not installed" in one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_cupy_without_cublas_names_the_library(monkeypatch, capsys):
    error = ImportError("libcublas.so.12: cannot open shared object file: No such file or directory")
    monkeypatch.setattr(cuda, "available", False)
    monkeypatch.setattr(cuda, "_resolution_error", error, raising=False)
    assert cuda_check.cuda_problem(0) == "CuPy cannot load libcublas.so.12"
    assert main(["bench", "--quick", "--gpu", "0"]) == 2
    assert "CUDA is not usable: CuPy cannot load libcublas.so.12;" in one_error_line(capsys.readouterr().err)


def fake_cupy(monkeypatch, device_count=1, cudnn=True, runtime_error=None):
    """chainer.backends.cuda as if CuPy had imported, with the given cuDNN and devices."""
    def count():
        if runtime_error:
            raise runtime_error
        return device_count

    runtime = types.SimpleNamespace(getDeviceCount=count)
    monkeypatch.setattr(cuda, "available", True)
    monkeypatch.setattr(cuda, "cudnn_enabled", cudnn)
    monkeypatch.setattr(cuda, "_cudnn_disabled_by_user", False, raising=False)
    monkeypatch.setattr(cuda, "cupy", types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime)))
    if not cudnn:
        error = ImportError("libcudnn.so.8: cannot open shared object file: No such file or directory")
        monkeypatch.setattr(cuda, "_resolution_error", error, raising=False)


@pytest.mark.parametrize("setup, gpu, expected", [
    (dict(cudnn=False), 0, "cuDNN cannot be loaded (libcudnn.so.8)"),
    (dict(device_count=0), 0, "no CUDA device found"),
    (dict(device_count=1), 1, "there is no CUDA device 1 (1 found: 0..0)"),
    (dict(runtime_error=RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")), 0,
     "no usable CUDA driver or device (cudaErrorInsufficientDriver: CUDA driver version is insufficient)"),
    (dict(device_count=2), 1, None),
])
def test_what_is_missing_is_named(monkeypatch, setup, gpu, expected):
    fake_cupy(monkeypatch, **setup)
    assert cuda_check.cuda_problem(gpu) == expected
    if expected:
        with pytest.raises(SettingError) as raised:
            cuda_check.require_cuda(gpu)
        assert raised.value.setting == "gpu"
        assert raised.value.message_for("--gpu").startswith(f"--gpu {gpu}: CUDA is not usable: {expected}; ")
    else:
        cuda_check.require_cuda(gpu)


def test_cpu_is_never_checked(monkeypatch):
    monkeypatch.setattr(cuda_check, "cuda_problem", lambda gpu: pytest.fail("checked CUDA for the CPU"))
    cuda_check.require_cuda(-1)
    cuda_check.require_cuda(None)


def test_wheel_libraries_are_loaded_globally_in_order(monkeypatch, tmp_path):
    for name in ("cudnn", "cublas", "cuda_runtime"):
        folder = tmp_path / "nvidia" / name / "lib"
        folder.mkdir(parents=True)
        (folder / f"lib{name}.so.12").write_bytes(b"")
    loaded = []

    def fake_cdll(path, mode=0):
        if "cuda_runtime" in path and not any("cudnn" in p for p in loaded):
            raise OSError("needs cudnn first")  # a dependency loaded later: tried again
        loaded.append(path)

    monkeypatch.setattr(cuda_check.sys, "path", [str(tmp_path)])
    monkeypatch.setattr(cuda_check.ctypes, "CDLL", fake_cdll)
    monkeypatch.setattr(cuda_check, "_preloaded", [])
    files = cuda_check.preload_cuda_wheels()
    assert [p.split("/")[-1] for p in files] == ["libcublas.so.12", "libcudnn.so.12", "libcuda_runtime.so.12"]
