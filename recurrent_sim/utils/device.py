"""Placing links on a CUDA device (through CuPy) or keeping them on the CPU."""
from recurrent_sim.utils.cuda import require_cuda
from recurrent_sim.utils.settings import Setting

GPU = Setting("gpu", -1, "CUDA device id, -1 for the CPU", int)


def use_device(gpu, *links):
    """Move links to CUDA device ``gpu`` (>= 0) or keep them on the CPU.

    Raises SettingError (``gpu``), in one line naming what is missing (CuPy,
    a CUDA library, cuDNN, the driver or the device), when CUDA is not usable.
    """
    if gpu is None or gpu < 0:
        return
    import chainer

    require_cuda(gpu)
    device = chainer.get_device(f"@cupy:{gpu}")
    device.use()
    for link in links:
        link.to_device(device)
