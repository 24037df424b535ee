"""Several games played at once, each by its agent, feeding one simulator trainer.

What ``processes N`` of the original script runs. The process that owns
the simulator (the calling one) starts a *games* process, which runs
chainerrl's ``train_agent_async``: it forks N game processes, each playing
its own copy of the game with its own agent (A3C agents learn
asynchronously with shared parameters, as chainerrl's A3C does; the
non-learning agent shares its fixed network). Every game process sends its
transitions (the frame the action was taken on, the action, the game's
reward, the episode end) in chunks through one queue to the calling
process, which stores them in a
:class:`~recurrent_sim.data.game_buffers.MultiGameBuffer` (one ring per game,
so no sequence joins two games) and trains the simulator exactly as with one
game: an update every ``training_steps`` transitions, counting all games.
The queue is bounded, so when the simulator's training is slower than the
games they wait: the ratio of updates to steps does not depend on N.

Signals: the game processes ignore SIGINT and SIGTERM; the calling process
receives them (:class:`~recurrent_sim.utils.signals.StopRequest`) and asks the
games to stop after their current step; the transitions they made are
still trained on and saved like the rest.
"""
import logging
import multiprocessing
import os
import queue as queues
import signal
import time
import warnings

import numpy as np

from recurrent_sim.envs.wrappers import AgentReward, TransitionRecorder  # NOQA: F401 (AgentReward: here too)
from recurrent_sim.utils.progress import Progress

logger = logging.getLogger(__name__)

CHUNK = 32  # transitions per message from a game process
QUEUED_CHUNKS = 4  # messages each game may have waiting before it blocks


class TransitionSender(TransitionRecorder):
    """Sends the transitions of a :class:`~recurrent_sim.envs.PreprocessedEnv` to ``queue``.

    Messages are ``(game, frames (k, H, W) uint8, actions (k,) int32, rewards
    (k,) float32, episode_ends (k,) bool)``. The newest transition is held
    back until the next step or reset, so that an episode cut short by a
    reset (a step limit of the play loop) still ends with an episode end.
    """

    def __init__(self, env, game, queue, chunk=CHUNK):
        super().__init__(env)
        self.game, self.queue, self.chunk = int(game), queue, int(chunk)
        self._pending = []

    def record(self, frame, action, reward, episode_end):
        self._pending.append((np.array(frame, dtype=np.uint8), action, reward, episode_end))
        if episode_end or len(self._pending) > self.chunk:
            self.flush(keep_last=not episode_end)

    def reset(self, **kwargs):
        if self._pending and not self._pending[-1][3]:
            frame, action, reward, _ = self._pending[-1]
            self._pending[-1] = (frame, action, reward, True)  # the episode ends here
        self.flush()
        return super().reset(**kwargs)

    def flush(self, keep_last=False):
        """Send the transitions held (all, or all but the newest)."""
        sent = self._pending[:-1] if keep_last else self._pending
        if sent:
            frames, actions, rewards, ends = zip(*sent)
            self.queue.put((self.game, np.stack(frames), np.asarray(actions, np.int32),
                            np.asarray(rewards, np.float32), np.asarray(ends, bool)))
        self._pending = self._pending[len(sent):]

    def close(self):
        self.flush()
        return self.env.close()


def _sender(env):
    while not isinstance(env, TransitionSender):
        env = env.env
    return env


class GameProcesses:
    """N game processes under chainerrl's ``train_agent_async``, read as one stream of transitions.

    Args:
        n_games: game processes.
        make_env: ``(process_idx, test) -> PreprocessedEnv``, the real game (test:
            for chainerrl's evaluations, whose transitions are not sent).
        make_agent: ``process_idx -> agent`` (chainerrl A3C, or the acting agent).
        steps: environment steps of all games together.
        outdir: the run folder (chainerrl writes evaluations, ``scores.txt`` and agents there).
        reward_filter: the agent's reward from the game's.
        eval_interval: steps between chainerrl's evaluations of the agent (None: none).
        eval_n_episodes: episodes per evaluation.
        save_agent: whether agents are saved (a learning A3C).
    """

    def __init__(self, n_games, make_env, make_agent, steps, outdir, reward_filter, eval_interval=None,
                 eval_n_episodes=10, save_agent=False):
        self.n_games, self.make_env, self.make_agent = n_games, make_env, make_agent
        self.steps, self.outdir, self.reward_filter = steps, outdir, reward_filter
        self.eval_interval, self.eval_n_episodes, self.save_agent = eval_interval, eval_n_episodes, save_agent
        context = multiprocessing.get_context("fork")
        self.queue = context.Queue(maxsize=QUEUED_CHUNKS * n_games)
        self.stop_event = context.Event()
        self.last_step = context.Value("l", 0)
        self.process = context.Process(target=self._run_games, name="games")
        self.steps_of_game = [0] * n_games  # transitions received from each game
        self.error = None

    # ----- the games process ------------------------------------------------------
    def _env(self, process_idx, test=False):
        env = self.make_env(process_idx, test)
        if not test:
            env = TransitionSender(env, process_idx, self.queue)
        return AgentReward(env, self.reward_filter)

    def _hook(self, env, agent, step):
        self.last_step.value = step
        if self.stop_event.is_set():
            _sender(env).flush()
            raise SystemExit(0)  # leaves chainerrl's loop quietly; the games process saves the agent

    def _run_games(self):
        from chainerrl.experiments import train_agent_async

        for signum in (signal.SIGINT, signal.SIGTERM):  # the simulator's process decides when to stop
            signal.signal(signum, signal.SIG_IGN)
        failures = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                agent = train_agent_async(
                    outdir=self.outdir, processes=self.n_games, make_env=self._env, make_agent=self.make_agent,
                    steps=self.steps, eval_interval=self.eval_interval, eval_n_episodes=self.eval_n_episodes,
                    global_step_hooks=[self._hook], save_best_so_far_agent=self.save_agent)
            failures = [str(w.message) for w in caught if "exited with nonzero" in str(w.message)
                        or "terminated by signal" in str(w.message)]
            if self.save_agent and self.stop_event.is_set():
                folder = os.path.join(self.outdir, f"{self.last_step.value}_except")
                agent.save(folder)
                logger.info("agent saved in %s", folder)
        except Exception as e:  # reported by the simulator's process
            failures.append(f"{type(e).__name__}: {e}")
        finally:
            self.queue.put(("failed", "; ".join(failures)) if failures else None)
            self.queue.close()

    # ----- the simulator's process ----------------------------------------------------
    def transitions(self, stop=None):
        """Start the games; yield ``(game, frame, action, reward, episode_end)`` until they end.

        ``stop`` (a :class:`StopRequest`) asks the games to stop once requested;
        :attr:`error` then says whether a game process failed.
        """
        self.process.start()
        while True:
            if stop is not None and stop.requested and not self.stop_event.is_set():
                self.stop_event.set()
            try:
                message = self.queue.get(timeout=0.2)
            except queues.Empty:
                if not self.process.is_alive():
                    self.error = self.error or f"the games process ended with status {self.process.exitcode}"
                    return
                continue
            if message is None:
                return
            if message[0] == "failed":
                self.error = message[1]
                return
            game, frames, actions, rewards, ends = message
            self.steps_of_game[game] += len(actions)
            for i in range(len(actions)):
                yield game, frames[i], int(actions[i]), float(rewards[i]), bool(ends[i])

    def close(self, timeout=60.0):
        """Stop the games (if still playing) and wait for them; what is still queued is dropped."""
        if self.process.pid is None:
            return
        self.stop_event.set()
        deadline = time.time() + timeout
        while self.process.is_alive() and time.time() < deadline:
            try:
                self.queue.get(timeout=0.2)
            except queues.Empty:
                pass
        self.process.join(max(deadline - time.time(), 0.1))
        if self.process.is_alive():
            logger.warning("the games process did not stop in %.0f s; terminating it", timeout)
            self.process.terminate()


def train_from_games(games, trainer, stop=None, log_interval=10.0) -> dict:
    """Feed every transition of ``games`` (:class:`GameProcesses`) to ``trainer``
    (a :class:`~recurrent_sim.training.SimulatorTrainer` on a ``MultiGameBuffer``).

    Returns the rates of the run: ``steps``, ``seconds``, ``steps_per_second``,
    ``updates``, ``updates_per_second``, and ``steps_of_game``: the transitions
    that arrived from each game. (The games may play up to N - 1 steps more than
    ``games.steps``: each finishes the step it is in.)
    Raises RuntimeError when a game process failed.
    """
    started, updates_before = time.time(), trainer.updates
    steps = 0
    try:
        with Progress(games.steps, "training", unit="steps", min_interval=log_interval) as progress:
            for game, frame, action, reward, end in games.transitions(stop):
                trainer.observe(frame, action, reward, end, game=game)
                steps += 1
                if steps <= games.steps:
                    progress.update(1, **trainer.progress_fields())
    finally:
        games.close()
    if games.error:
        raise RuntimeError(f"a game process failed: {games.error}")
    seconds = max(time.time() - started, 1e-9)
    updates = trainer.updates - updates_before
    return {"steps": steps, "seconds": seconds, "steps_per_second": steps / seconds, "updates": updates,
            "updates_per_second": updates / seconds, "steps_of_game": list(games.steps_of_game)}
