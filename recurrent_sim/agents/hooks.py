"""chainerrl step hooks for the agent's training loop, and the run's ``scores.txt``.

chainerrl's ``train_agent`` calls each step hook as ``hook(env, agent, step)``
after every step (``step`` counts from 1). :func:`train_agent_with_hooks`
runs it with the hooks of a run: progress lines, evaluations every so many
steps, and a stop at a safe point on Ctrl-C or SIGTERM, after a last call
that saves what the run learnt; chainerrl then saves the agent, in
``<step>_finish`` (or ``<step>_except`` when stopped) in the run folder.
"""
import logging
import os
import time

from chainerrl.experiments import train_agent

from recurrent_sim.agents.episode_loops import summarize

logger = logging.getLogger(__name__)

# The columns of chainerrl's scores.txt, before the agent's own statistics.
SCORE_COLUMNS = ("steps", "episodes", "elapsed", "mean", "median", "stdev", "max", "min")


class Scores:
    """``scores.txt`` in the run folder, laid out as chainerrl's evaluator writes it.

    A header (:data:`SCORE_COLUMNS`, then the names of
    ``agent.get_statistics()``), then one tab-separated row per set of
    returns: steps, episodes, elapsed seconds, mean, median, stdev, max, min
    of the returns, then the agent's statistics.
    """

    def __init__(self, outdir, agent):
        self.path = os.path.join(outdir, "scores.txt")
        self.agent = agent
        self.started = time.time()
        with open(self.path, "w") as f:
            print("\t".join(SCORE_COLUMNS + tuple(name for name, _ in agent.get_statistics())), file=f)

    def record(self, steps, returns):
        """Append the row of ``returns`` (a list of episode returns; none: no row) at ``steps``."""
        if not returns:
            return
        stats = summarize(returns)
        values = (steps, len(returns), time.time() - self.started, stats["mean"], stats["median"], stats["stdev"],
                  max(returns), min(returns)) + tuple(value for _, value in self.agent.get_statistics())
        with open(self.path, "a") as f:
            print("\t".join(str(value) for value in values), file=f)


class TrainingStopped(Exception):
    """Leaves chainerrl's loop at ``step`` on a stop request (chainerrl saves the agent first)."""

    def __init__(self, step):
        super().__init__(f"stopped at step {step}")
        self.step = step


def lr_decay_hook(steps, lr):
    """Step hook (chainerrl's ``LinearInterpolationHook``) that sets the agent's optimizer's learning
    rate, linearly from ``lr`` at step 1 to 0 at step ``steps``."""
    from chainerrl.experiments import LinearInterpolationHook

    def set_lr(env, agent, value):
        agent.optimizer.lr = value

    return LinearInterpolationHook(steps, lr, 0.0, set_lr)


class EverySteps:
    """Step hook: ``action(step)`` every ``interval`` steps (0 or None: never)."""

    def __init__(self, interval, action):
        self.interval, self.action = interval, action

    def __call__(self, env, agent, step):
        if self.interval and step % self.interval == 0:
            self.action(step)


class ProgressFields:
    """Step hook: advances a :class:`~recurrent_sim.utils.progress.Progress` by
    one step, showing the dict of numbers ``fields()`` returns."""

    def __init__(self, progress, fields):
        self.progress, self.fields = progress, fields

    def __call__(self, env, agent, step):
        self.progress.update(1, **self.fields())


class FinishOrStop:
    """Step hook: ``finish(step)`` at the last step or once ``stop.requested``
    (a :class:`~recurrent_sim.utils.signals.StopRequest`), then, when stopped,
    :class:`TrainingStopped`."""

    def __init__(self, steps, stop=None, finish=None):
        self.steps, self.stop, self.finish = steps, stop, finish

    def __call__(self, env, agent, step):
        stopped = self.stop is not None and self.stop.requested
        if (stopped or step == self.steps) and self.finish is not None:
            self.finish(step)
        if stopped:
            logger.info("stopped after %d of %d steps", step, self.steps)
            raise TrainingStopped(step)


def train_agent_with_hooks(agent, env, steps, outdir, hooks=(), stop=None, finish=None) -> str:
    """chainerrl's ``train_agent``: ``agent`` plays ``steps`` steps of ``env`` with ``act_and_train``.

    Args:
        agent: a chainerrl agent (a learning A3C, or the acting one).
        env: the game, wrapped: the reward it returns is what the agent learns from.
        steps: environment steps to play.
        outdir: the run folder, where chainerrl saves the agent.
        hooks: step hooks, called after every step.
        stop: a :class:`~recurrent_sim.utils.signals.StopRequest`: the run stops after the step it is in.
        finish: callable(step), run at the last step or on a stop, before the agent is saved.
    Returns:
        The folder chainerrl saved the agent in.
    """
    try:
        train_agent(agent, env, steps, outdir, step_hooks=[*hooks, FinishOrStop(steps, stop, finish)], logger=logger)
    except TrainingStopped as stopped:
        return os.path.join(outdir, f"{stopped.step}_except")
    return os.path.join(outdir, f"{steps}_finish")
