"""The simulated game under the gymnasium API, for agents outside chainerrl.

:class:`GymnasiumSimulatedGame` wraps a
:class:`~recurrent_sim.envs.simulated_game.SimulatedGame` as a
``gymnasium.Env``: ``reset(seed=None, options=None) -> (observation, info)``
and ``step(action) -> (observation, reward, terminated, truncated, info)``,
where ``terminated`` is the episode-end head's verdict and ``truncated``
the step limit. ``options={"frames": ..., "actions": ...}`` in ``reset``
warms up on those real frames instead of drawing from the warm-up source.
``reset(seed=s)`` reseeds the warm-up source (:meth:`SimulatedGame.seed`),
the one random thing of an episode: the same seed and actions play the
same episode (gymnasium's ``check_env`` passes).
"""
import gymnasium
import numpy as np

from recurrent_sim.envs.simulated_game import SimulatedGame


class GymnasiumSimulatedGame(gymnasium.Env):
    """A gymnasium environment over a :class:`SimulatedGame`.

    Args:
        game: the :class:`SimulatedGame` (its ``max_episode_steps`` should be
            None: the step limit is ``max_episode_steps`` here, reported as
            truncation).
        max_episode_steps: steps after which an episode is truncated (None: never).
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, game: SimulatedGame, max_episode_steps=None):
        if game.games.max_episode_steps is not None:
            raise ValueError("give the step limit to GymnasiumSimulatedGame (it reports it as truncation), "
                             "not to the SimulatedGame")
        self.game = game
        self.max_episode_steps = max_episode_steps
        self.render_mode = "rgb_array"
        space = game.observation_space
        self.observation_space = gymnasium.spaces.Box(0, 255, space.shape, np.uint8)
        self.action_space = gymnasium.spaces.Discrete(game.action_space.n)

    def reset(self, *, seed=None, options=None):
        """Warm up again: on ``options["frames"]`` / ``options["actions"]`` when given, else as
        :meth:`SimulatedGame.reset`; with ``seed``, the warm-up source is reseeded first. Returns
        ``(observation, info)``."""
        super().reset(seed=seed)
        if seed is not None:
            self.game.seed(seed)
        options = options or {}
        if "frames" in options:
            observation = self.game.warm_up(options["frames"], options["actions"])
        else:
            observation = self.game.reset()
        return observation, {"frame": self.game.frame}

    def step(self, action):
        """One simulated step: ``(observation, reward, terminated, truncated, info)``."""
        observation, reward, done, info = self.game.step(int(action))
        truncated = self.max_episode_steps is not None and info["episode_step"] >= self.max_episode_steps
        return observation, reward, bool(done), bool(truncated and not done), info

    def render(self):
        """The current (H, W) uint8 frame."""
        return self.game.render()
