"""Registering the Atari and synthetic games with gym, and making them by id.

Use :func:`make_env` (or :func:`make_game` for preprocessed frames) rather
than ``gym.make`` in the package: it names close matches when an id is
misspelt.
"""
import difflib
import logging
import warnings

import gym

from recurrent_sim.envs.atari_ids import ROM_IDS, variants
from recurrent_sim.envs.image_games import check_image_observations, refuse_non_image_id
from recurrent_sim.envs.preprocessing import FRAME_SIZE, PreprocessedEnv
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import Setting, game_id

logger = logging.getLogger(__name__)

ENTRY_POINT = "recurrent_sim.envs.atari:AtariEnv"
ENV = Setting("env", "Breakout-v0", "gym id of the game", game_id)


class UnknownEnvError(UserError, ValueError):
    """An environment id that gym does not know; the message names close matches."""

    def __init__(self, env_id, suggestions):
        self.env_id = env_id
        self.suggestions = list(suggestions)
        if self.suggestions:
            hint = f"did you mean: {', '.join(self.suggestions)}?"
        else:
            hint = "Atari ids look like Breakout-v0 or PongNoFrameskip-v4"
        super().__init__(f"unknown environment {env_id!r}; {hint}")


def register_atari_envs():
    """Register the classic ids of every supported ROM with gym; idempotent.

    Ids that gym already knows are left alone. Returns the list of all the
    Atari ids of this module.
    """
    env_ids = []
    for game in ROM_IDS:
        for env_id, kwargs, max_episode_steps in variants(game):
            env_ids.append(env_id)
            if env_id not in gym.envs.registry.env_specs:
                gym.envs.registration.register(
                    id=env_id,
                    entry_point=ENTRY_POINT,
                    kwargs=kwargs,
                    max_episode_steps=max_episode_steps,
                )
    return env_ids


def make_env(env_id, seed=None):
    """Make the gym environment ``env_id`` (wrapped in TimeLimit), seeded if asked.

    Raises:
        UnknownEnvError: ``env_id`` is not registered; the message names
            the closest registered ids.
        UserError: the environment could not be built.
    """
    try:
        gym.spec(env_id)
    except gym.error.Error as error:
        known = list(gym.envs.registry.env_specs)
        by_lower = {known_id.lower(): known_id for known_id in known}
        close = difflib.get_close_matches(env_id.lower(), by_lower, n=4, cutoff=0.6)
        raise UnknownEnvError(env_id, [by_lower[c] for c in close]) from error
    with warnings.catch_warnings():
        # gym 0.22 calls every -v0 id "out of date" because a -v4 exists; the
        # two differ in sticky actions, neither replaces the other.
        warnings.filterwarnings("ignore", message=".*is out of date")
        try:
            env = gym.make(env_id)
        except (ValueError, ImportError, gym.error.Error) as error:
            raise UserError(f"cannot make environment {env_id}: {error}") from None
    if seed is not None:
        env.seed(seed)
    logger.debug("made %s (seed %s)", env_id, seed)
    return env


def make_game(env_id, seed=0, frame_size=FRAME_SIZE.default, n_frames=4, color="gray"):
    """A preprocessed game: gray frames of ``frame_size`` (a side, or (height, width)), ``n_frames``
    stacked; its ``last_frame`` in ``color`` (``"gray"`` or ``"rgb"``).

    Raises UserError for an unknown id (the message names close matches) or
    a game without image frames.
    """
    refuse_non_image_id(env_id)
    env = make_env(env_id, seed=seed)
    check_image_observations(env, env_id)
    size = tuple(frame_size) if isinstance(frame_size, (tuple, list)) else (frame_size, frame_size)
    return PreprocessedEnv(env, size=size, n_frames=n_frames, color=color)
