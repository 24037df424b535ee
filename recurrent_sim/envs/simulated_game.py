"""One game played entirely inside a trained simulator: a ``gym.Env`` with no emulator.

Warm it up on real frames (a dataset episode, or a few steps of the live
game: :mod:`recurrent_sim.envs.warmup_sources`), then step it like the real
game::

    game = SimulatedGame(simulator)
    observation = game.warm_up(frames, actions)      # (T, H, W) uint8, (T,) or (T - 1,) int
    observation, reward, done, info = game.step(2)
    info["frame"]                                    # (H, W) uint8 predicted frame
    info["drift"]                                    # estimated error per pixel, None without heads
    saved = game.get_state()                         # branch: try something ...
    game.set_state(saved)                            # ... and come back

The observation is the (n_frames, H, W) uint8 frame stack the agents see
on the real game; reward, episode end and drift come from the simulator's
heads (see :mod:`recurrent_sim.envs.batched_simulated_game`, which this
wraps with one game).
"""
import logging

import gym
import numpy as np
from gym import spaces

from recurrent_sim.envs.batched_simulated_game import BatchedSimulatedGame

logger = logging.getLogger(__name__)


class SimulatedGame(gym.Env):
    """A single game inside ``simulator``, usable wherever a gym game is.

    Args:
        simulator: a trained simulator (mean image set), with or without heads.
        n_frames: frames stacked in an observation (the agents' frame history).
        max_episode_steps: steps after the warm-up at which an episode ends
            anyway (None: only the episode-end head ends it).
        done_threshold: episode-end probability above which the episode ends.
        warmup_source: ``(n) -> (frames (n, T, H, W), actions (n, T - 1) or (n, T))``
            that :meth:`reset` draws a new warm-up from; without it
            :meth:`reset` replays the last :meth:`warm_up`.
        reward_mode: ``"class"``: the reward class the head ranks first, -1,
            0 or +1; ``"expected"``: ``p(positive) - p(negative)``.
    """

    metadata = {"render.modes": ["rgb_array"]}

    def __init__(self, simulator, n_frames=4, max_episode_steps=None, done_threshold=0.5, warmup_source=None,
                 reward_mode="class"):
        self.games = BatchedSimulatedGame(simulator, n_frames, max_episode_steps, done_threshold, warmup_source,
                                          reward_mode)
        height, width = self.games.frame_shape
        self.action_space = spaces.Discrete(self.games.n_actions)
        self.observation_space = spaces.Box(0, 255, (self.games.n_frames, height, width), np.uint8)
        self.frame = None
        self._warned_unseeded = False

    @property
    def simulator(self):
        return self.games.simulator

    @property
    def has_heads(self) -> bool:
        return self.games.has_heads

    @property
    def last_frame(self):
        """The newest frame, (H, W) uint8 gray or (3, H, W) RGB (as :attr:`PreprocessedEnv.last_frame`),
        None before a warm-up."""
        return None if self.frame is None else self.frame.copy()

    @property
    def frame_shape(self):
        """(height, width) of the frames."""
        return self.games.frame_shape

    @property
    def episode_step(self) -> int:
        """Steps since the warm-up."""
        return 0 if self.games.episode_steps is None else int(self.games.episode_steps[0])

    def warm_up(self, frames, actions):
        """Start from real frames: (T, H, W) uint8 ((T, 3, H, W) RGB) and (T - 1,) or (T,) int actions.

        ``actions[t]`` was taken on ``frames[t]``. With T - 1 actions the
        game then acts on the last real frame; with T the last action is
        taken on it in the simulator, and the game starts from the predicted
        frame. Returns the (n_frames, H, W) uint8 observation.
        """
        frames = np.asarray(frames)
        actions = np.asarray(actions)
        if frames.ndim != 1 + len(self.games.image_shape) or actions.ndim != 1:
            raise ValueError(f"warm_up needs (T, H, W) frames and (T,) actions, got {frames.shape}, {actions.shape}")
        observation = self.games.warm_up(frames[None], actions[None])[0]
        self.frame = self.games.last_frames[0]
        return observation

    def reset(self):
        """A new warm-up from the warm-up source, or the last warm-up again; returns the observation."""
        observation = self.games.reset()[0]
        self.frame = self.games.last_frames[0]
        return observation

    def step(self, action):
        """Take ``action`` (int) in the simulator.

        Returns ``(observation (n_frames, H, W) uint8, reward float, done bool, info)``;
        ``info`` holds ``frame`` ((H, W) uint8 predicted frame, (3, H, W) RGB), ``drift``
        (float, the estimated mean squared error per pixel in [0, 1] of that
        frame; None without heads), ``reward_probabilities`` ((3,) over
        negative, zero, positive; None without heads), ``done_probability``
        (float or None) and ``episode_step``.
        """
        if not self.action_space.contains(int(action)) or int(action) != action:
            raise ValueError(f"invalid action {action!r}: expected an integer in 0..{self.action_space.n - 1}")
        observations, rewards, dones, batch_info = self.games.step(np.array([int(action)]))
        self.frame = batch_info["frames"][0]
        info = dict(frame=self.frame, episode_step=int(batch_info["episode_steps"][0]), drift=None,
                    reward_probabilities=None, done_probability=None)
        if self.has_heads:
            info.update(drift=float(batch_info["drift"][0]),
                        reward_probabilities=batch_info["reward_probabilities"][0],
                        done_probability=float(batch_info["done_probabilities"][0]))
        return observations[0], float(rewards[0]), bool(dones[0]), info

    def get_state(self):
        """A snapshot of the game for :meth:`set_state` (branching); independent of later steps."""
        return dict(games=self.games.get_state(), frame=None if self.frame is None else self.frame.copy())

    def set_state(self, snapshot):
        """Go back to a :meth:`get_state` snapshot (it can be restored again later)."""
        self.games.set_state(snapshot["games"])
        self.frame = None if snapshot["frame"] is None else snapshot["frame"].copy()

    def render(self, mode="rgb_array"):
        """The current (H, W) uint8 frame."""
        return None if self.frame is None else self.frame.copy()

    def seed(self, seed=None):
        """Reseed the warm-up source (its ``seed(seed)``), so that the warm-ups :meth:`reset` draws
        from now on are those of ``seed``: the simulator itself draws nothing, so the same seed and
        actions play the same episode. A source without ``seed`` is warned about (once) and left as is."""
        source = self.games.warmup_source
        if seed is not None and source is not None:
            if hasattr(source, "seed"):
                source.seed(seed)
            elif not self._warned_unseeded:
                self._warned_unseeded = True
                logger.warning("the warm-up source %r has no seed(seed): seeding this game does not repeat "
                               "its warm-ups", source)
        return [seed]
