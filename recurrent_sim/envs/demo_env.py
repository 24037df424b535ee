"""The original script's ``--demo`` env: the real game, seen by the agent through a trained simulator.

:class:`SimulatorDemoEnv` wraps a :class:`PreprocessedEnv` and gives an agent
(n_frames, H, W) uint8 stacked observations built from the simulator's
frames. (While the simulator learns, the agent plays the
:class:`PreprocessedEnv` itself and the play loop hands every real
transition to the trainer: see :func:`recurrent_sim.agents.episode_loops.train`.)

The simulator is warmed up on the first ``warmup_steps`` real transitions of
each episode (the agent sees real frames meanwhile), then fed its own
predictions; every ``chain_period`` predicted steps its current frame is
replaced by the real one (re-synchronisation). From the end of the warm-up on,
the agent's stacked observation is built from the simulator's frames. The real
game runs alongside with the same actions: the reward and the episode end
always come from it, and it provides the frames the simulator is compared with
and re-synchronised to. Every counter restarts at each episode. A
prediction-independent simulator advances from the actions alone after the
warm-up; a re-synchronisation feeds the real frame to its next step.
"""
import collections
import logging

import numpy as np

from recurrent_sim.envs.rollout_batch import RolloutBatch

logger = logging.getLogger(__name__)


class SimulatorDemoEnv:
    """A real game seen by an agent through a simulator.

    Args:
        env: a :class:`~recurrent_sim.envs.PreprocessedEnv` (the real game).
        simulator: a trained simulator (any registered architecture) whose
            frames the agent sees.
        warmup_steps: real transitions fed to the simulator at the start of
            each episode before it runs on its own predictions (demo).
        chain_period: predicted steps between re-synchronisations with the
            real frame (demo); 0 never re-synchronises.

    ``step`` returns ``(obs, reward, done, info)`` where ``info`` holds
    ``real_frame`` and ``frame`` (the frame shown to the agent), both
    (H, W) uint8, ``raw_frame`` (the game's frame as it came, e.g.
    (210, 160, 3) uint8 RGB), ``simulated`` (True when ``frame`` came from the
    simulator), ``resynced``, ``sim_error`` (mean squared error per pixel
    in [0, 1] between the predicted and the real frame, None while the
    simulator is not predicting), ``episode_step`` and the game's own info.
    """

    def __init__(self, env, simulator, warmup_steps=15, chain_period=20):
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        if chain_period < 0:
            raise ValueError(f"chain_period must be >= 0, got {chain_period}")
        game_shape = tuple(getattr(env, "image_shape", env.frame_shape))
        if tuple(simulator.config.image_shape) != game_shape:
            raise ValueError(
                f"the simulator predicts {simulator.config.image_shape} frames, the game gives {game_shape}"
            )
        self.env = env
        self.simulator = simulator
        self.warmup_steps = int(warmup_steps)
        self.chain_period = int(chain_period)
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        self.n_frames = env.n_frames
        self._rollouts = RolloutBatch(simulator)
        self._frames = collections.deque(maxlen=self.n_frames)
        self._reset_counters()

    @property
    def simulating(self) -> bool:
        """True once this episode's warm-up is over (demo)."""
        return self._simulating

    def _reset_counters(self):
        self.episode_step = 0
        self.steps_since_sync = 0
        self.episode_errors = []
        self._simulating = False
        self._warmup_frames = []
        self._warmup_actions = []

    def reset(self):
        """Start an episode; returns the (n_frames, H, W) uint8 observation."""
        self.env.reset()
        self._reset_counters()
        first = self.env.last_frame
        self._frames.clear()
        self._frames.extend([first] * self.n_frames)
        self._warmup_frames.append(first)
        if self.warmup_steps == 0:
            self._start_simulating()
        return self._observation()

    def _start_simulating(self):  # the warm-up is over: from now on the agent sees predictions
        frames = np.stack(self._warmup_frames)[None]
        actions = np.asarray(self._warmup_actions, dtype=np.int32).reshape(1, -1)
        self._rollouts.reset(frames, actions)
        self._simulating = True
        self._warmup_frames, self._warmup_actions = [], []
        logger.debug("simulator warmed up on %d real transitions", actions.shape[1])

    def step(self, action):
        """Take ``action`` (int) in the real game and in the simulator."""
        action = int(action)
        _, reward, done, game_info = self.env.step(action)
        real = self.env.last_frame
        self.episode_step += 1
        info = dict(game_info, real_frame=real, raw_frame=self.env.raw_frame, simulated=False, resynced=False, sim_error=None,
                    episode_step=self.episode_step)
        if not self._simulating:
            self._warmup_frames.append(real)
            self._warmup_actions.append(action)
            if len(self._warmup_actions) >= self.warmup_steps:
                self._start_simulating()
            shown = real
        else:
            predicted = self._rollouts.step(np.array([action], dtype=np.int32))[0]
            error = float(np.mean(np.square(predicted.astype(np.float32) - real.astype(np.float32)))) / 255.0**2
            self.episode_errors.append(error)
            info["sim_error"] = error
            self.steps_since_sync += 1
            if self.chain_period and self.steps_since_sync >= self.chain_period:
                self._rollouts.set_frames(real[None])
                self.steps_since_sync = 0
                info["resynced"] = True
                shown = real
            else:
                info["simulated"] = True
                shown = predicted
        info["frame"] = shown
        self._frames.append(shown)
        return self._observation(), reward, done, info

    def _observation(self):
        return np.stack(self._frames)

    @property
    def mean_episode_error(self):
        """Mean per-pixel squared error of this episode's predictions (None if none)."""
        return float(np.mean(self.episode_errors)) if self.episode_errors else None

    @property
    def raw_frame(self):
        """The real game's newest frame as it came, e.g. (210, 160, 3) uint8 RGB."""
        return self.env.raw_frame

    def close(self):
        self.env.close()
