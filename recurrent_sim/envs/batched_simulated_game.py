"""N whole games played inside a simulator: frames, reward, episode end and drift, no emulator.

:class:`BatchedSimulatedGame` runs N games in one forward pass per step
(:class:`~recurrent_sim.envs.rollout_batch.RolloutBatch`). Once warmed
up on real frames it needs no emulator: the frames are the simulator's
predictions, and when the simulator has heads
(:mod:`recurrent_sim.models.heads`) the reward is the sign class the reward
head ranks first (-1, 0 or +1; ``reward_mode="expected"``: the expected sign,
``p(positive) - p(negative)``, a smoother signal for agents that learn in
the simulator), the episode ends when the episode-end
head's probability exceeds ``done_threshold``, and the drift signal is the
error head's estimate of the mean squared error per pixel (pixels in
[0, 1]) of the frame just predicted. Without heads the reward is 0, an
episode ends only at ``max_episode_steps``, and the drift is None.

Observations are what the agents see on the real game
(:class:`~recurrent_sim.envs.preprocessing.PreprocessedEnv`): the last
``n_frames`` frames stacked, (n_frames, H, W) uint8 gray (the luminance of
an RGB simulator's frames), oldest first, the first frame repeated when
fewer exist. The frames themselves (``info["frames"]``) are the
simulator's: (H, W) gray or (3, H, W) RGB.

Where warm-ups come from: :meth:`warm_up` takes them explicitly; for
:meth:`reset` and the automatic restarts a ``warmup_source(n) -> (frames
(n, T, H, W) uint8, actions (n, T) or (n, T - 1) int)`` draws new ones (see
:mod:`recurrent_sim.envs.warmup_sources`); without one the last warm-up of
each game is replayed.
"""
import numpy as np

from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.models.heads import NEGATIVE, POSITIVE, class_rewards
from recurrent_sim.utils.images import luminance
from recurrent_sim.utils.settings import Setting, positive_int

REWARD_MODES = ("class", "expected")
SIM_REWARD = Setting("sim_reward", "class", "the agent's reward in the simulator: the reward head's first class "
                     "(-1, 0, +1) or its expected sign p(positive) - p(negative)", choices=REWARD_MODES,
                     original_flag="--sim-reward")
SIM_EPISODE_LEN = Setting("sim_episode_len", 50, "steps after which a simulated episode ends if the episode-end "
                          "head has not ended it", positive_int, original_flag="--sim-episode-len")


class BatchedSimulatedGame:
    """N games inside ``simulator``; see the module docstring.

    Args:
        simulator: a trained simulator (mean image set), with or without heads.
        n_frames: frames stacked in an observation.
        max_episode_steps: steps after the warm-up at which an episode ends
            anyway (None: only the episode-end head ends episodes).
        done_threshold: probability of the episode-end head above which an episode ends.
        warmup_source: ``(n) -> (frames, actions)`` for :meth:`reset` (optional).
        reward_mode: ``"class"`` (-1, 0 or +1) or ``"expected"`` (the expected sign).
    """

    def __init__(self, simulator, n_frames=4, max_episode_steps=None, done_threshold=0.5, warmup_source=None,
                 reward_mode="class"):
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode must be one of {', '.join(REWARD_MODES)}, got {reward_mode!r}")
        self.reward_mode = reward_mode
        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        if not 0.0 < done_threshold < 1.0:
            raise ValueError(f"done_threshold must be in (0, 1), got {done_threshold}")
        self.simulator = simulator
        self.n_frames = int(n_frames)
        self.max_episode_steps = max_episode_steps
        self.done_threshold = float(done_threshold)
        self.warmup_source = warmup_source
        self.frame_shape = tuple(simulator.config.frame_shape)
        self.image_shape = tuple(simulator.config.image_shape)  # of one frame: (H, W) gray, (3, H, W) RGB
        self.n_actions = int(simulator.config.n_actions)
        self.rollouts = RolloutBatch(simulator)
        self.stacks = None  # (N, n_frames) + image_shape uint8 frames
        self.episode_steps = None  # (N,) int64 steps since each game's warm-up
        self._warmups = None  # per game: its last (frames (T, H, W), actions) warm-up, replayed by reset

    @property
    def has_heads(self) -> bool:
        return self.simulator.has_heads

    @property
    def num_games(self) -> int:
        return 0 if self.stacks is None else len(self.stacks)

    # ----- warm-up ---------------------------------------------------------
    def warm_up(self, frames, actions):
        """Start every game from real frames.

        Args:
            frames: (N, T) + ``image_shape`` uint8 real frames, T >= 1.
            actions: (N, T - 1) int, ``actions[:, t]`` taken on ``frames[:, t]``:
                the games then act on the last real frame; or (N, T): the last
                action is taken on the last frame too, and the games start
                from the frame the simulator predicts for it.
        Returns:
            (N, n_frames, H, W) uint8 observations.
        """
        frames, actions = self._check_warmup(frames, actions)
        self._warmups = [(frames[i].copy(), actions[i].copy()) for i in range(len(frames))]
        self.rollouts.reset(frames, actions[:, : frames.shape[1] - 1])
        self.stacks = np.stack([self._stack(f) for f in frames])
        self.episode_steps = np.zeros(len(frames), dtype=np.int64)
        if actions.shape[1] == frames.shape[1]:
            predicted = self.rollouts.step(actions[:, -1])
            self.stacks = np.concatenate([self.stacks[:, 1:], predicted[:, None]], axis=1)
        return self._observations()

    def _check_warmup(self, frames, actions):
        frames = np.asarray(frames)
        actions = np.asarray(actions)
        shape = self.image_shape
        wrong = frames.ndim != 2 + len(shape) or frames.shape[1] < 1 or frames.shape[2:] != shape
        if wrong or frames.dtype != np.uint8:
            raise ValueError(f"warm-up frames must be (N, T >= 1, {', '.join(map(str, shape))}) "
                             f"uint8, got {frames.shape} {frames.dtype}")
        steps = frames.shape[1]
        if actions.ndim != 2 or len(actions) != len(frames) or actions.shape[1] not in (steps - 1, steps):
            raise ValueError(f"warm-up actions must be (N, T - 1) or (N, T) for {frames.shape[:2]} frames, "
                             f"got {actions.shape}")
        if actions.size and (actions.min() < 0 or actions.max() >= self.n_actions):
            raise ValueError(f"warm-up actions must be in 0..{self.n_actions - 1}")
        return frames, actions.astype(np.int32)

    def _observations(self):
        """(N, n_frames, H, W) uint8 gray observations of the stacked frames (a copy)."""
        return luminance(self.stacks) if len(self.image_shape) == 3 else self.stacks.copy()

    @property
    def last_frames(self):
        """(N,) + ``image_shape`` uint8: each game's newest frame (a copy)."""
        return self.stacks[:, -1].copy()

    def _stack(self, frames):
        """(n_frames,) + image_shape stack of the last warm-up frames, the first repeated when too few."""
        last = frames[-self.n_frames :]
        pad = np.repeat(last[:1], self.n_frames - len(last), axis=0)
        return np.concatenate([pad, last])

    def _draw(self, n):
        if self.warmup_source is not None:
            return self.warmup_source(n)
        raise RuntimeError("no warm-up to start from: call warm_up() first or give a warmup_source")

    def reset(self):
        """Restart every game: new warm-ups from ``warmup_source``, else the last ones replayed."""
        if self.warmup_source is not None or self._warmups is None:
            return self.warm_up(*self._draw(self.num_games or 1))
        frames, actions = zip(*self._warmups)
        return self.warm_up(np.stack(frames), np.stack(actions))

    def reset_games(self, games):
        """Restart the games ``games`` (indices) as :meth:`reset` does; the others carry on.

        Returns the (N, n_frames, H, W) uint8 observations of all the games.
        Warm-ups with as many actions as frames (a first predicted step) can
        only restart all the games together (:meth:`reset`).
        """
        games = np.asarray(games, dtype=np.int64).reshape(-1)
        if self.stacks is None:
            raise RuntimeError("call warm_up() or reset() before reset_games()")
        if not len(games):
            return self._observations()
        if self.warmup_source is not None:
            frames, actions = self._check_warmup(*self._draw(len(games)))
        else:
            frames, actions = (np.stack(parts) for parts in zip(*(self._warmups[g] for g in games)))
        if actions.shape[1] != frames.shape[1] - 1:
            raise ValueError("restarting some games needs warm-ups of T frames and T - 1 actions")
        self.rollouts.reset_games(games, frames, actions)
        for row, game in enumerate(games):
            self._warmups[game] = (frames[row].copy(), actions[row].copy())
            self.stacks[game] = self._stack(frames[row])
        self.episode_steps[games] = 0
        return self._observations()

    # ----- stepping --------------------------------------------------------
    def step(self, actions):
        """Advance every game by one step.

        Args:
            actions: (N,) int actions.
        Returns:
            ``(observations (N, n_frames, H, W) uint8, rewards (N,) float32,
            dones (N,) bool, info)``; ``info`` holds ``frames`` (N,) +
            ``image_shape`` uint8 predicted frames, ``drift`` (N,) float32 estimated error
            per pixel (None without heads), ``reward_probabilities`` (N, 3)
            and ``done_probabilities`` (N,) (None without heads), and
            ``episode_steps`` (N,) int64.
        """
        if self.stacks is None:
            raise RuntimeError("call warm_up() or reset() before step()")
        actions = np.asarray(actions).reshape(-1)
        if len(actions) != self.num_games:
            raise ValueError(f"step needs {self.num_games} actions, got {len(actions)}")
        if not np.all((actions >= 0) & (actions < self.n_actions)) or actions.dtype.kind not in "iu":
            raise ValueError(f"actions must be integers in 0..{self.n_actions - 1}, got {actions.tolist()}")
        frames = self.rollouts.step(actions.astype(np.int32))
        self.stacks = np.concatenate([self.stacks[:, 1:], frames[:, None]], axis=1)
        self.episode_steps = self.episode_steps + 1
        rewards = np.zeros(self.num_games, dtype=np.float32)
        dones = np.zeros(self.num_games, dtype=bool)
        info = dict(frames=frames, drift=None, reward_probabilities=None, done_probabilities=None)
        if self.has_heads:
            reward_probabilities, done_probabilities, drift = self.rollouts.head_predictions()
            if self.reward_mode == "class":
                rewards = class_rewards(reward_probabilities.argmax(axis=1))
            else:
                rewards = (reward_probabilities[:, POSITIVE] - reward_probabilities[:, NEGATIVE]).astype(np.float32)
            dones = done_probabilities > self.done_threshold
            info.update(drift=drift, reward_probabilities=reward_probabilities, done_probabilities=done_probabilities)
        if self.max_episode_steps is not None:
            dones = dones | (self.episode_steps >= self.max_episode_steps)
        info["episode_steps"] = self.episode_steps.copy()
        return self._observations(), rewards, dones, info

    # ----- branching -------------------------------------------------------
    def get_state(self):
        """A snapshot of every game (simulator state, frames, counters) for :meth:`set_state`."""
        if self.stacks is None:
            raise RuntimeError("nothing to snapshot: call warm_up() or reset() first")
        return dict(sim=self.rollouts.snapshot(), stacks=self.stacks.copy(), episode_steps=self.episode_steps.copy())

    def set_state(self, snapshot):
        """Go back to a :meth:`get_state` snapshot; it stays valid for further branches."""
        self.rollouts.restore(snapshot["sim"])
        self.stacks = snapshot["stacks"].copy()
        self.episode_steps = snapshot["episode_steps"].copy()
