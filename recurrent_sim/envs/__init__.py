"""Environments: ALE-backed Atari games under gym ids, and frame preprocessing.

Importing this package registers ``Breakout-v0``, ``PongNoFrameskip-v4``, ...
with gym (see :mod:`recurrent_sim.envs.atari_ids`), and the tiny synthetic game
``BlockWorld-v0`` (:mod:`recurrent_sim.envs.synthetic`): the games are
registered when this package is first imported, not by ``import recurrent_sim``.
"""
import warnings

# The classic ids (Breakout-v0 ...) are what this package registers on
# purpose; gym's "is out of date, consider v4" warning is noise here.
warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading")

from recurrent_sim.envs.atari import AtariEnv  # NOQA
from recurrent_sim.envs.preprocessing import (  # NOQA
    COLOR,
    FRAME_BUFFER_LENGTH,
    FRAME_SIZE,
    PreprocessedEnv,
    frame_shape_value,
    preprocess_color,
    preprocess_frame,
    to_gray,
)
from recurrent_sim.envs.registration import (  # NOQA
    ENV,
    UnknownEnvError,
    make_env,
    make_game,
    register_atari_envs,
)
from recurrent_sim.envs.batched_simulated_game import BatchedSimulatedGame  # NOQA
from recurrent_sim.envs.simulated_game import SimulatedGame  # NOQA
from recurrent_sim.envs.synthetic import BlockWorldEnv, register_synthetic_envs  # NOQA

register_atari_envs()
register_synthetic_envs()
