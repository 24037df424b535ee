"""Agents through episodes: the online training loop, demo episodes, and what a
demo leaves on disk (side-by-side real | simulated frames, saliency maps).

The environment is a :class:`~recurrent_sim.envs.demo_env.SimulatorDemoEnv`
(or anything with its ``reset``/``step`` interface); agents are chainerrl
agents (``act``, ``act_and_train``, ``stop_episode_and_train``).
"""
import logging
import math
import os
import statistics
import time

import cv2
import numpy as np

from recurrent_sim.utils.images import save_animation, save_png, side_by_side
from recurrent_sim.utils.progress import Progress

logger = logging.getLogger(__name__)


class RewardFilter:
    """The reward an agent learns from: ``0`` below ``min_reward`` (when set),
    then times ``scale``. ``min_reward=None`` keeps every reward."""

    def __init__(self, min_reward=None, scale=1.0):
        self.min_reward = min_reward
        self.scale = float(scale)

    def __call__(self, reward) -> float:
        reward = float(reward)
        if self.min_reward is not None and reward < self.min_reward:
            reward = 0.0
        return reward * self.scale


def summarize(scores) -> dict:
    """Mean, median and sample standard deviation (0 for one run) of episode returns."""
    scores = [float(s) for s in scores]
    if not scores:
        return {"n_runs": 0, "mean": math.nan, "median": math.nan, "stdev": math.nan}
    return {
        "n_runs": len(scores),
        "mean": statistics.mean(scores),
        "median": statistics.median(scores),
        "stdev": statistics.stdev(scores) if len(scores) > 1 else 0.0,
    }


def saliency_panels(frame, saliency_map):
    """Pictures of a saliency map.

    Args:
        frame: (H, W) uint8 frame the agent saw last.
        saliency_map: (n_frames, H, W) float32 input gradient.
    Returns:
        Three (H, W, 3) uint8 RGB images: the frame, the map (absolute
        gradient summed over the stacked frames, scaled to its maximum,
        colour-mapped) and the map laid over the frame.
    """
    magnitude = np.abs(np.asarray(saliency_map, dtype=np.float32)).sum(axis=0)
    peak = float(magnitude.max())
    scaled = (magnitude / peak * 255.0).astype(np.uint8) if peak > 0 else np.zeros_like(magnitude, np.uint8)
    heat = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    gray = np.repeat(np.asarray(frame, dtype=np.uint8)[:, :, None], 3, axis=2)
    overlay = cv2.addWeighted(gray, 0.6, heat, 0.4, 0.0)
    return gray, heat, overlay


class DemoRecorder:
    """Writes what a demo shows into a folder.

    * ``b2w/episode_NNN/step_NNNNN.png``: real | simulated frames side by
      side, every step (when ``side_by_side_frames``), and
      ``b2w/episode_NNN.gif``: the first ``gif_frames`` of them animated;
    * ``render/episode_NNN/step_NNNNN.png``: the game's own frames (RGB, as
      the emulator gives them), every step (when ``raw_frames``);
    * ``saliency/episode_NNN/step_NNNNN.png``: frame | guided-backprop
      saliency | overlay, every ``saliency_interval`` steps (0: never).

    Args:
        outdir: folder the sub-folders are written in (created if missing).
        side_by_side_frames: write real | simulated frames.
        saliency_interval: steps between saliency maps; 0 disables them.
        gif_frames: frames per episode in the animated GIF; 0 disables it.
        raw_frames: write the game's own frames.
        scale: pixel scale of the pictures.
    """

    def __init__(self, outdir, side_by_side_frames=True, saliency_interval=10, gif_frames=300,
                 raw_frames=False, scale=3, fps=15):
        self.outdir = os.fspath(outdir)
        self.side_by_side_frames = side_by_side_frames
        self.saliency_interval = int(saliency_interval)
        self.gif_frames = int(gif_frames)
        self.raw_frames = raw_frames
        self.scale = scale
        self.fps = fps
        self.episode = 0
        self.written = {"b2w": 0, "gif": 0, "saliency": 0, "render": 0}
        self._gif = []

    def start_episode(self):
        """Call at every reset, before :meth:`record`."""
        self.finish_episode()
        self.episode += 1

    def record(self, step, real_frame, shown_frame, simulated, agent=None, obs=None, action=None, raw_frame=None):
        """Record one step of the current episode.

        Args:
            step: step index in the episode (0 right after a reset).
            real_frame: (H, W) uint8 real frame.
            shown_frame: (H, W) uint8 frame the agent was shown.
            simulated: whether ``shown_frame`` came from the simulator.
            agent: an agent with ``saliency(obs, action)``, for saliency maps.
            obs: (n_frames, H, W) uint8 observation the agent acted on.
            action: the action it took.
            raw_frame: the game's own frame, e.g. (210, 160, 3) uint8 RGB.
        """
        if self.raw_frames and raw_frame is not None:
            save_png(os.path.join(self.outdir, "render", f"episode_{self.episode:03d}", f"step_{step:05d}.png"),
                     raw_frame)
            self.written["render"] += 1
        if self.side_by_side_frames:
            source = "simulated" if simulated else "simulated (= real)"
            image = side_by_side([real_frame, shown_frame], ["real", source], scale=self.scale,
                                 caption=f"episode {self.episode} step {step}")
            save_png(os.path.join(self.outdir, "b2w", f"episode_{self.episode:03d}", f"step_{step:05d}.png"), image)
            self.written["b2w"] += 1
            if len(self._gif) < self.gif_frames:
                self._gif.append(image)
        if agent is not None and obs is not None and self.saliency_interval and step % self.saliency_interval == 0:
            action, grad = agent.saliency(obs, action)
            image = side_by_side(saliency_panels(obs[-1], grad), ["seen", "saliency", "overlay"], scale=self.scale,
                                 caption=f"episode {self.episode} step {step} action {action}")
            save_png(os.path.join(self.outdir, "saliency", f"episode_{self.episode:03d}", f"step_{step:05d}.png"),
                     image)
            self.written["saliency"] += 1

    def finish_episode(self):
        """Write the current episode's animation (also called by :meth:`start_episode`)."""
        if self._gif:
            save_animation(os.path.join(self.outdir, "b2w", f"episode_{self.episode:03d}.gif"), self._gif, self.fps)
            self.written["gif"] += 1
        self._gif = []


def run_episodes(env, agent, n_runs, recorder=None, max_episode_len=None, description="demo"):
    """Play ``n_runs`` episodes with ``agent.act`` (no learning).

    Returns the list of episode returns (sums of the game's rewards).
    Progress lines show steps, steps/s and the simulator's running error.
    """
    scores = []
    errors = []
    with Progress(None, description, unit="steps") as progress:
        for run in range(n_runs):
            obs = env.reset()
            real, simulated = obs[-1], False
            if recorder is not None:
                recorder.start_episode()
            total, step, done = 0.0, 0, False
            while not done and (max_episode_len is None or step < max_episode_len):
                action = agent.act(obs)
                if recorder is not None:
                    recorder.record(step, real, obs[-1], simulated, agent=agent, obs=obs, action=action,
                                    raw_frame=getattr(env, "raw_frame", None))
                obs, reward, done, info = env.step(action)
                real, simulated = info.get("real_frame", obs[-1]), bool(info.get("simulated", False))
                total += reward
                step += 1
                if info.get("sim_error") is not None:
                    errors.append(info["sim_error"])
                fields = {"episode": run + 1, "return": total}
                if errors:
                    fields["sim_error"] = float(np.mean(errors[-100:]))
                progress.update(1, **fields)
            agent.stop_episode()
            scores.append(total)
            episode_error = getattr(env, "mean_episode_error", None)
            logger.info("episode %d: return %g, %d steps, simulator error %s", run + 1, total, step,
                        "n/a" if episode_error is None else f"{episode_error:.6f}")
        if recorder is not None:
            recorder.finish_episode()
    return scores


def train(env, agent, steps, reward_filter=None, evaluate=None, eval_interval=None, log_interval=10.0, stop=None,
          recorders=()):
    """Let ``agent`` play ``steps`` steps of the real game ``env`` with ``act_and_train``.

    Every transition is handed to each of ``recorders`` (the step hook):
    ``recorder.observe(frame, action, reward, episode_end)`` with the (H, W)
    uint8 frame the action was taken on (``env.last_frame`` before the step),
    the int action, the game's reward and whether the episode ended. A
    recorder with a ``progress_fields()`` method adds its dict of numbers to
    the progress lines (the simulator trainer: updates and running error).

    Args:
        env: the real game, a :class:`~recurrent_sim.envs.PreprocessedEnv`.
        agent: a chainerrl agent (a learning A3C or the acting one).
        steps: environment steps to play.
        reward_filter: maps the game's reward to the agent's (RewardFilter).
        evaluate: callable(step) run every ``eval_interval`` steps.
        log_interval: seconds between progress lines.
        stop: an object whose ``requested`` attribute becomes True to stop
            early, between two steps (a :class:`~recurrent_sim.utils.signals.StopRequest`).
        recorders: objects with ``observe(frame, action, reward, episode_end)``,
            e.g. a :class:`~recurrent_sim.training.SimulatorTrainer`.
    Returns:
        The list of returns of the episodes finished.
    """
    reward_filter = reward_filter or RewardFilter()
    scores = []
    obs = env.reset()
    reward, total = 0.0, 0.0
    started = time.time()
    with Progress(steps, "training", unit="steps", min_interval=log_interval) as progress:
        for step in range(1, steps + 1):
            if stop is not None and stop.requested:
                logger.info("stopped after %d of %d steps", step - 1, steps)
                break
            action = agent.act_and_train(obs, reward)
            frame = env.last_frame
            obs, game_reward, done, info = env.step(action)
            for recorder in recorders:
                recorder.observe(frame, int(action), game_reward, done)
            total += game_reward
            reward = reward_filter(game_reward)
            if done:
                agent.stop_episode_and_train(obs, reward, done=True)
                scores.append(total)
                logger.debug("episode %d finished at step %d: return %g", len(scores), step, total)
                obs = env.reset()
                reward, total = 0.0, 0.0
            fields = {"episodes": len(scores)}
            for recorder in recorders:
                fields.update(recorder.progress_fields() if hasattr(recorder, "progress_fields") else {})
            progress.update(1, **fields)
            if evaluate is not None and eval_interval and step % eval_interval == 0:
                evaluate(step)
    logger.info("played %d steps in %.0f s", progress.count, time.time() - started)
    return scores
