"""recurrent_sim: learned recurrent simulators of Atari games (Chiappa et al., 2017)."""

from recurrent_sim import envs  # NOQA  (registers the Atari gym ids)

__version__ = "0.1.0"
