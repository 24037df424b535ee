"""recurrent_sim: learned recurrent simulators of Atari games (Chiappa et al., 2017)."""
import contextlib
import io
import warnings

from recurrent_sim.utils.signals import quiet_interrupt_while_loading

with quiet_interrupt_while_loading():  # Ctrl-C in the first second of `recurrent-sim`: one line
    from recurrent_sim.utils.cuda import preload_cuda_wheels

    # CuPy 13 does not find the CUDA 12 libraries of NVIDIA's pip wheels (the
    # GPU extra) by itself: load them before anything imports chainer/CuPy.
    preload_cuda_wheels()

    # gym 0.22 (pinned: chainerrl needs it) prints a notice to stderr on import;
    # it says nothing a user of this package can act on, so it is swallowed.
    with contextlib.redirect_stderr(io.StringIO()):
        import gym  # NOQA

    # The classic ids (Breakout-v0 ...) are what this package registers on
    # purpose; gym's "is out of date, consider v4" warning is noise here.
    warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading")

    from recurrent_sim import envs  # NOQA  (registers the Atari gym ids)

__version__ = "0.1.0"
