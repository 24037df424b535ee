"""Environments: ALE-backed Atari games under gym ids, and frame preprocessing.

Importing this package registers ``Breakout-v0``, ``PongNoFrameskip-v4``, ...
with gym (see :mod:`recurrent_sim.envs.atari`).
"""

from recurrent_sim.envs.atari import (  # NOQA
    AtariEnv,
    UnknownEnvError,
    make_env,
    register_atari_envs,
)
from recurrent_sim.envs.preprocessing import (  # NOQA
    PreprocessedEnv,
    preprocess_frame,
    to_gray,
)

register_atari_envs()
