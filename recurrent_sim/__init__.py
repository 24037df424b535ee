"""recurrent_sim: learned recurrent simulators of Atari games (Chiappa et al., 2017).

Importing the package is light: gym, the emulator and the games are loaded
by :mod:`recurrent_sim.envs`, the first time a game is needed (the command
lines and the env helpers import it), which registers ``Breakout-v0``,
``BlockWorld-v0`` ... with gym.
"""
import contextlib

from recurrent_sim.utils.signals import quiet_interrupt_while_loading

# gym 0.22 (pinned: chainerrl needs it) prints on import, to stderr, the notice
# that gym_notices holds for its version; it says nothing a user of this
# package can act on. Emptied here, so whatever imports gym later (chainerrl,
# recurrent_sim.envs) stays quiet, without importing gym now.
with contextlib.suppress(ImportError):
    import gym_notices.notices

    gym_notices.notices.notices.clear()

with quiet_interrupt_while_loading():  # Ctrl-C in the first second of `recurrent-sim`: one line
    from recurrent_sim.utils.cuda import preload_cuda_wheels

    # CuPy 13 does not find the CUDA 12 libraries of NVIDIA's pip wheels (the
    # GPU extra) by itself: load them before anything imports chainer/CuPy.
    preload_cuda_wheels()

__version__ = "0.1.0"
