"""Placing links on a CUDA device (through CuPy) or keeping them on the CPU."""
from recurrent_sim.utils.settings import Setting, SettingError

GPU = Setting("gpu", -1, "CUDA device id, -1 for the CPU", int)


def use_device(gpu, *links):
    """Move links to CUDA device ``gpu`` (>= 0) or keep them on the CPU.

    Raises SettingError (``gpu``) when a GPU is asked for but CuPy or the device is missing.
    """
    if gpu is None or gpu < 0:
        return
    import chainer

    if not chainer.backends.cuda.available:
        raise SettingError(
            "gpu", f"{{flag}} {gpu} needs CuPy and a CUDA device; install recurrent_sim[gpu] or use {{flag}} -1"
        )
    device = chainer.get_device(f"@cupy:{gpu}")
    device.use()
    for link in links:
        link.to_device(device)
