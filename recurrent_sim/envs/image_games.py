"""Games the simulator can learn: those whose observations are image frames.

The simulator predicts frames, so a game must give (H, W, 3) RGB or (H, W)
gray uint8 images. Games of gym's families without images (classic control
such as CartPole-v0, toy text, Box2D, MuJoCo) are refused by id, before gym
imports their modules (some need packages such as pygame); any other game is
refused once built if its observations are not images.
"""
import gym
import numpy as np

from recurrent_sim.utils.errors import UserError

NON_IMAGE_FAMILIES = ("gym.envs.classic_control", "gym.envs.toy_text", "gym.envs.box2d", "gym.envs.mujoco")


class NoImageFramesError(UserError):
    """The game's observations are not image frames."""


def _refuse(env_id, observations):
    return NoImageFramesError(
        f"{env_id} has no image frames ({observations}); the simulator needs image frames: "
        "use a game with a screen, such as Breakout-v0 or BlockWorld-v0"
    )


def is_image_space(space) -> bool:
    """True for a uint8 Box of shape (H, W) or (H, W, 1 or 3)."""
    if not isinstance(space, gym.spaces.Box) or space.dtype != np.uint8:
        return False
    shape = space.shape
    return len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))


def refuse_non_image_id(env_id):
    """Refuse, before building it, an empty id or a game of a family without image frames.

    Raises:
        UserError: an empty id.
        NoImageFramesError: a classic control, toy text, Box2D or MuJoCo game.
    """
    if not env_id or not str(env_id).strip():
        raise UserError("--env is empty; name a game, such as Breakout-v0")
    try:
        entry_point = str(gym.spec(env_id).entry_point)
    except gym.error.Error:
        return  # an unknown id: make_env names close matches
    if entry_point.startswith(NON_IMAGE_FAMILIES):
        family = entry_point.split(":")[0].rsplit(".", 1)[-1].replace("_", " ")
        raise _refuse(env_id, f"a {family} game: its observations are numbers")


def check_image_observations(env, env_id):
    """Refuse (and close) a built game whose observations are not image frames."""
    if not is_image_space(env.observation_space):
        env.close()
        raise _refuse(env_id, f"its observations are {env.observation_space}")
