"""Placing links on a CUDA device (through CuPy) or keeping them on the CPU."""
from recurrent_sim.utils.cuda import require_cuda


def use_device(gpu, *links):
    """Move links to CUDA device ``gpu`` (>= 0) or keep them on the CPU.

    Raises UserError, in one line naming what is missing (CuPy, a CUDA
    library, cuDNN, the driver or the device), when CUDA is not usable.
    """
    if gpu is None or gpu < 0:
        return
    import chainer

    require_cuda(gpu)
    device = chainer.get_device(f"@cupy:{gpu}")
    device.use()
    for link in links:
        link.to_device(device)
