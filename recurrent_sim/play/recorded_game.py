"""The real game of a play session, recorded so that it can be rewound.

Games here are deterministic given their seed (ALE without sticky actions,
BlockWorld), so rewinding to step ``t`` is: reset with the episode's seed
and replay its first ``t`` actions. The replayed frames are checked against
the recorded ones; a game that does not repeat itself is reported.
"""
import logging

import numpy as np

from recurrent_sim.utils.settings import offset_seed

logger = logging.getLogger(__name__)


class RecordedGame:
    """A preprocessed game (:class:`~recurrent_sim.envs.PreprocessedEnv`) and
    the frames, actions and rewards of its current episode.

    ``frames[t]`` is the (H, W) uint8 frame seen after ``t`` steps (``frames[0]``
    the reset frame); ``actions[t]`` and ``rewards[t]`` belong to the step from
    ``frames[t]`` to ``frames[t + 1]``. Episode ``e`` is played with the game
    seeded by ``seed + e`` (wrapping around past 2**32 - 1, the largest seed).
    """

    def __init__(self, game, seed=0):
        self.game = game
        self.seed = int(seed)
        self.episode = -1
        self.frames, self.actions, self.rewards = [], [], []
        self.observation = None
        self.done = False

    @property
    def n_actions(self) -> int:
        return int(self.game.action_space.n)

    @property
    def last_step(self) -> int:
        """Steps played in this episode (the index of the newest frame)."""
        return len(self.actions)

    @property
    def episode_seed(self) -> int:
        return offset_seed(self.seed, self.episode)

    def action_names(self):
        """Names of the actions (``NOOP``, ``UP``, ``FIRE`` ...), or ``ACTION_k``."""
        meanings = getattr(self.game.unwrapped, "get_action_meanings", None)
        names = list(meanings()) if meanings else []
        if len(names) != self.n_actions:
            names = [f"ACTION_{k}" for k in range(self.n_actions)]
        return names

    def _restart(self):
        self.game.seed(self.episode_seed)
        self.observation = self.game.reset()
        self.done = False

    def reset(self):
        """Start the next episode; returns the stacked observation."""
        self.episode += 1
        self._restart()
        self.frames, self.actions, self.rewards = [self.game.last_frame], [], []
        return self.observation

    def step(self, action):
        """Play one step; returns (observation, reward, done)."""
        if self.done:
            raise RuntimeError("the real episode is over: reset or rewind first")
        self.observation, reward, self.done, _ = self.game.step(int(action))
        self.frames.append(self.game.last_frame)
        self.actions.append(int(action))
        self.rewards.append(float(reward))
        return self.observation, float(reward), self.done

    def rewind(self, step):
        """Go back to the state after ``step`` steps; later steps are forgotten."""
        if not 0 <= step <= self.last_step:
            raise ValueError(f"cannot rewind to step {step}: the episode has steps 0 to {self.last_step}")
        actions = self.actions[:step]
        self._restart()
        for action in actions:
            self.observation, _, self.done, _ = self.game.step(action)
        if not np.array_equal(self.game.last_frame, self.frames[step]):
            logger.warning("the real game did not repeat itself when replayed to step %d: "
                           "it is not deterministic given its seed", step)
        self.frames = self.frames[:step] + [self.game.last_frame]
        self.actions, self.rewards = actions, self.rewards[:step]
        return self.observation
