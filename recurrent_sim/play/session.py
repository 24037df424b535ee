"""One game played in the simulator, with the real game beside it on the same actions (what-if mode).

A :class:`PlaySession` holds a :class:`~recurrent_sim.envs.simulated_game.SimulatedGame`
(the simulated game a person or the agent plays), a
:class:`~recurrent_sim.play.recorded_game.RecordedGame` (the real game,
stepped with the same actions and recorded so it can be rewound) and the
timeline of the episode: per real step ``t`` the simulated frame, the
divergence (mean squared error per pixel between the simulated and the real
frame, pixels in [0, 1]) and the simulator's own drift estimate.

Branching at step ``t`` rewinds the real game to ``t`` and warms the
simulator up on the last ``warmup`` real frames up to ``t``: from there the
simulated frame is the real one (divergence 0) and both games go on with
the same actions.
"""
import logging
import os
import time

import numpy as np

from recurrent_sim.utils.images import save_animation, side_by_side

logger = logging.getLogger(__name__)

#: Most steps written into one GIF (the newest ones).
MAX_GIF_STEPS = 2000
#: Episodes in a row that may end during the warm-up before a new episode keeps the ended one.
MAX_SKIPPED_EPISODES = 100


def divergence(simulated, real) -> float:
    """Mean squared error per pixel between two (H, W) uint8 frames, pixels scaled to [0, 1]."""
    difference = simulated.astype(np.float64) / 255.0 - real.astype(np.float64) / 255.0
    return float(np.mean(difference * difference))


class PlaySession:
    """The simulated game and the real game side by side; see the module docstring.

    Args:
        simulated: a ``SimulatedGame`` (``warm_up(frames, actions)``,
            ``step(action) -> (observation, reward, done, info)`` with
            ``info["frame"]`` and ``info["drift"]``).
        real: the :class:`RecordedGame` beside it (same frame size and actions).
        agent: something with ``act(observation) -> int`` on (n_frames, H, W)
            uint8 observations: plays when the agent is switched on, and
            plays the real frames the simulator is first warmed up on.
        warmup: real frames the simulator is warmed up on at each branch.
    """

    def __init__(self, simulated, real, agent, warmup=10):
        if warmup < 1:
            raise ValueError(f"warmup must be >= 1, got {warmup}")
        self.simulated, self.real, self.agent = simulated, real, agent
        self.warmup = int(warmup)
        self.sim_frames, self.divergences, self.drifts = [], [], []
        self.observation = None  # what the simulated game shows the agent, (n_frames, H, W) uint8
        self.branch_step = 0
        self.sim_rewards = []  # rewards of the simulated steps since the branch
        self.sim_done = False

    @property
    def has_drift(self) -> bool:
        return bool(getattr(self.simulated, "has_heads", False))

    @property
    def over(self) -> bool:
        """True when the real game's episode has ended (stepping needs a new episode or a branch).

        The simulated game's own episode end (from its heads) is only shown: the
        simulator can go on, and the real game beside it decides.
        """
        return self.real.done

    def new_episode(self):
        """Reset the real game, let the agent play the first ``warmup - 1`` real steps, branch at the last.

        An episode that ends during these steps is skipped (the next one is
        played), up to :data:`MAX_SKIPPED_EPISODES` in a row.
        """
        for _ in range(MAX_SKIPPED_EPISODES):
            self.real.reset()
            while self.real.last_step < self.warmup - 1 and not self.real.done:
                self.real.step(self.agent.act(self.real.observation))
            if not self.real.done:
                break
            logger.info("episode %d ended within the %d warm-up steps: skipped", self.real.episode, self.warmup - 1)
        else:
            logger.warning("%d episodes in a row ended within the %d warm-up steps; a smaller --warmup "
                           "leaves some to play", MAX_SKIPPED_EPISODES, self.warmup - 1)
        self.sim_frames, self.divergences, self.drifts = [], [], []
        self.branch(self.real.last_step)

    def branch(self, step):
        """Rewind the real game to ``step`` and restart the simulator from its frames up to there."""
        self.real.rewind(step)
        first = max(0, step - self.warmup + 1)
        frames = np.stack(self.real.frames[first : step + 1])
        actions = np.asarray(self.real.actions[first:step], dtype=np.int32)
        self.observation = self.simulated.warm_up(frames, actions)
        if self.observation is None:
            self.observation = self.real.observation
        kept = min(len(self.sim_frames), step)  # steps before ``step`` the simulator only watched show the real frame
        self.sim_frames = self.sim_frames[:kept] + self.real.frames[kept : step + 1]
        self.divergences = self.divergences[:kept] + [0.0] * (step + 1 - kept)
        self.drifts = self.drifts[:kept] + [None] * (step + 1 - kept)
        self.branch_step = step
        self.sim_rewards, self.sim_done = [], False

    def agent_action(self) -> int:
        """The agent's action on the simulated game's current observation."""
        return int(self.agent.act(self.observation))

    def step(self, action):
        """One step of both games with ``action``; records the simulated frame, divergence and drift."""
        if self.over:
            raise RuntimeError("the real episode is over: start a new one or branch from an earlier step")
        self.observation, reward, done, info = self.simulated.step(int(action))
        self.real.step(action)
        frame = np.asarray(info["frame"], dtype=np.uint8)
        drift = info.get("drift")
        self.sim_frames.append(frame)
        self.divergences.append(divergence(frame, self.real.frames[-1]))
        self.drifts.append(None if drift is None else float(drift))
        self.sim_rewards.append(float(reward))
        self.sim_done = bool(done)

    def view(self) -> dict:
        """The current moment as the page shows it (frames as (H, W) uint8 arrays).

        Rewards: ``real_reward`` / ``sim_reward`` of the last step (0 right
        after a branch), ``real_score`` / ``sim_score`` summed over the
        episode (the simulated game's score counts the real rewards up to the
        branch, then its own).
        """
        step = self.real.last_step
        before_branch = float(sum(self.real.rewards[: self.branch_step]))
        return {
            "step": step,
            "branch_step": self.branch_step,
            "sim": self.sim_frames[step],
            "real": self.real.frames[step],
            "divergence": self.divergences[step],
            "drift": self.drifts[step],
            "divergences": self.divergences[self.branch_step :],
            "real_reward": self.real.rewards[-1] if self.real.rewards and step > self.branch_step else 0.0,
            "sim_reward": self.sim_rewards[-1] if self.sim_rewards else 0.0,
            "real_score": float(sum(self.real.rewards)),
            "sim_score": before_branch + float(sum(self.sim_rewards)),
            "real_done": self.real.done,
            "sim_done": self.sim_done,
            "episode": self.real.episode,
        }

    def save_gif(self, folder, fps=15, scale=4) -> str:
        """Write the episode so far (real | simulated, step and divergence below) as
        ``folder/play_<time>_episode<e>.gif``; returns its path."""
        first = max(0, len(self.sim_frames) - MAX_GIF_STEPS)
        images = [
            side_by_side([self.real.frames[t], self.sim_frames[t]], labels=["real", "simulated"], scale=scale,
                         caption=f"step {t}  MSE {self.divergences[t]:.4f}")
            for t in range(first, len(self.sim_frames))
        ]
        name = f"play_{time.strftime('%Y%m%d-%H%M%S')}_episode{self.real.episode}.gif"
        path = os.path.join(folder, name)
        save_animation(path, images, fps=fps)
        logger.info("saved %d steps to %s", len(images), path)
        return path
