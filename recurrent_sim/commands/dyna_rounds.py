"""The rounds of ``recurrent-sim dyna`` (see :mod:`recurrent_sim.commands.dyna`) and their state.

Each round r runs four phases, each from what the round before left:

* ``collect``: the agent of round r - 1 (round 1: the untrained agent of
  ``--seed``) plays ``episodes_per_round`` real episodes into ``OUT/data``;
* ``simulator``: an offline run (:class:`~recurrent_sim.training.offline.OfflineTrainer`)
  in ``OUT/round_RRR/simulator`` trains the simulator of round r - 1 (its
  newest checkpoint; round 1: a new simulator with heads) on every episode
  so far;
* ``agent``: the A3C agent of round r - 1 (round 1: the untrained one)
  trains ``agent_steps`` steps inside that simulator's game and is saved in
  ``OUT/round_RRR/agent``;
* ``score``: that agent plays ``score_episodes`` real episodes (the same
  seeds every round); the mean and standard deviation go to ``rounds.csv``.

``OUT/dyna.json`` (rewritten atomically after every phase, and at a stop)
holds the settings, the round and phase to do next, the agent steps made so
far in the round, and every finished round's row.
"""
import dataclasses
import json
import os
import shutil
import signal

import numpy as np

from recurrent_sim.agents import make_acting_agent, make_learning_agent
from recurrent_sim.agents.episode_loops import RewardFilter, summarize, train
from recurrent_sim.commands.collect import AgentPolicy, episode_seed, play_episode
from recurrent_sim.data.episodes import EpisodeDataset, EpisodeWriter, read_manifest
from recurrent_sim.envs import make_game
from recurrent_sim.envs.simulated_game import SimulatedGame
from recurrent_sim.envs.warmup_sources import DatasetWarmups
from recurrent_sim.training.checkpoint import list_checkpoints, load_checkpoint, newest_loadable_checkpoint
from recurrent_sim.training.offline import OfflineTrainer
from recurrent_sim.training.run_settings import OfflineSettings, RunOptions
from recurrent_sim.training.run_state import CHECKPOINT_FOLDER, find_resume_checkpoint
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import atomic_write
from recurrent_sim.utils.finite import NonFiniteError
from recurrent_sim.utils.settings import offset_seed

STATE_FILE = "dyna.json"
ROUNDS_FILE = "rounds.csv"
CURVE_FILE = "rounds.png"
DATA_FOLDER = "data"
PHASES = ("collect", "simulator", "agent", "score")
ROUND_FIELDS = ("round", "episodes", "real_steps", "simulator_updates", "agent_steps", "sim_return_mean",
                "score_mean", "score_std", "score_min", "score_max")
SCORE_INDEX = 10**9  # episode indices of the scoring games: apart from the collected ones


def round_folder(out, round_number) -> str:
    return os.path.join(out, f"round_{round_number:03d}")


def round_simulator(out, round_number) -> str:
    """The simulator a round ended with: the newest checkpoint of its training run that loads."""
    folder = os.path.join(round_folder(out, round_number), "simulator", CHECKPOINT_FOLDER)
    checkpoint = newest_loadable_checkpoint(folder) if list_checkpoints(folder) else None
    if checkpoint is None:
        raise UserError(f"--resume: the simulator of round {round_number} ({folder}) is missing or damaged; "
                        "start a new run in another --out")
    return checkpoint.path


def new_state(settings) -> dict:
    """The state of a run that has done nothing yet."""
    return {"settings": settings.flat(), "round": 1, "phase": PHASES[0], "agent_steps_done": 0,
            "agent_partial": None, "rows": []}


def read_state(out) -> dict:
    """``OUT/dyna.json`` (ValueError or OSError when unreadable)."""
    with open(os.path.join(out, STATE_FILE), encoding="utf-8") as f:
        state = json.load(f)
    if not isinstance(state, dict) or state.get("phase") not in PHASES or not isinstance(state.get("rows"), list):
        raise ValueError("not the state of a dyna run")
    return state


def write_state(out, state):
    text = json.dumps(state, indent=1, sort_keys=True) + "\n"
    atomic_write(os.path.join(out, STATE_FILE), lambda f: f.write(text.encode("utf-8")))


def simulator_settings(s, number) -> OfflineSettings:
    """The settings of round ``number``'s simulator training: those of the run's settings ``s``, with
    batches and weights drawn from a seed of the round's own."""
    return dataclasses.replace(s.simulator, seed=offset_seed(s.seed, number))


class DynaRun:
    """The rounds of one run folder ``out``, continued from ``state`` (:func:`new_state`, :func:`read_state`).

    Args:
        out: the run folder (locked by the caller).
        settings: the run's :class:`~recurrent_sim.commands.dyna.DynaSettings`.
        state: the state dict, updated and saved as phases finish.
        stop: the :class:`~recurrent_sim.utils.signals.StopRequest` of the command.
        gpu: CUDA device id, -1 for the CPU.
        sim_cpu_minutes: processor minutes after which a round's simulator training ends (0: none).
        n_actions: the game's number of actions.
    """

    def __init__(self, out, settings, state, stop, n_actions, gpu=-1, sim_cpu_minutes=0.0):
        self.out, self.settings, self.state, self.stop = os.fspath(out), settings, state, stop
        self.gpu, self.sim_cpu_minutes, self.n_actions = gpu, sim_cpu_minutes, n_actions
        self.data = os.path.join(self.out, DATA_FOLDER)
        size = settings.frame_size
        self.obs_shape = (settings.frame_buffer_length, size, size)

    # ----- the loop -------------------------------------------------------------
    def play(self, rounds) -> bool:
        """Play the phases left up to the end of round ``rounds``; False when a signal stopped it."""
        while self.state["round"] <= rounds:
            number = self.state["round"]
            for phase in PHASES[PHASES.index(self.state["phase"]):]:
                if self.stop.requested or not getattr(self, "_" + phase)(number):
                    return False
                following = PHASES.index(phase) + 1
                if following == len(PHASES):
                    self.state.update(round=number + 1, phase=PHASES[0])
                else:
                    self.state["phase"] = PHASES[following]
                write_state(self.out, self.state)
        return True

    def _previous_agent(self, number):
        return os.path.join(round_folder(self.out, number - 1), "agent") if number > 1 else None

    def _game(self, seed):
        s = self.settings
        return make_game(s.env, seed=seed, frame_size=s.frame_size, n_frames=s.frame_buffer_length)

    def _play_real(self, game, policy, seeds):
        """Episodes of ``game`` from resets seeded with ``seeds``, each handed out as it ends (None at a stop)."""
        for seed in seeds:
            episode = play_episode(game, policy, seed, self.settings.max_episode_steps, self.stop)
            yield seed, episode
            if episode is None:
                return

    # ----- the phases: each returns False when a signal stopped it --------------
    def _collect(self, number) -> bool:
        s = self.settings
        game = self._game(s.seed)
        try:
            policy = SeededAgentPolicy(self.n_actions, self.obs_shape, self._previous_agent(number), s.seed, self.gpu)
            size = (s.frame_size, s.frame_size)
            writer = EpisodeWriter(self.data, s.env, size, self.n_actions, {"frame_shape": list(size)})
            target = number * s.episodes_per_round
            seeds = (episode_seed(s.seed, index) for index in range(writer.num_episodes, target))
            for seed, episode in self._play_real(game, policy, seeds):
                if episode is None:
                    return False
                writer.add(episode, seed=seed, policy=f"dyna round {number}: {policy.description}")
            return True
        finally:
            game.close()

    def _simulator(self, number) -> bool:
        updates = self.settings.sim_updates
        every = min(updates, 500)
        options = RunOptions(updates=updates, checkpoint_every=every, validate_every=every, log_every=min(updates, 10),
                             keep_checkpoints=2, gpu=self.gpu, max_cpu_minutes=self.sim_cpu_minutes)
        folder = os.path.join(round_folder(self.out, number), "simulator")
        dataset = EpisodeDataset([self.data])
        if list_checkpoints(os.path.join(folder, CHECKPOINT_FOLDER)):  # stopped in this phase: go on
            trainer = OfflineTrainer.resume(folder, dataset, find_resume_checkpoint(folder), options)
        else:
            init = load_checkpoint(round_simulator(self.out, number - 1)) if number > 1 else None
            trainer = OfflineTrainer(folder, dataset, simulator_settings(self.settings, number), options, init=init)
        result = trainer.run()
        if result.reason == "non-finite":
            raise NonFiniteError(f"round {number}: {result.message}")
        self.state["round_updates"] = result.updates
        if result.reason in ("SIGINT", "SIGTERM"):  # the trainer's own StopRequest took it
            self.stop.signum = int(getattr(signal, result.reason))
        return not self.stop.requested

    def _agent(self, number) -> bool:
        s, state = self.settings, self.state
        folder = round_folder(self.out, number)
        load = os.path.join(folder, state["agent_partial"]) if state["agent_partial"] else self._previous_agent(number)
        # without ``load`` (round 1) the agent starts from the untrained weights of --seed, the collecting agent's
        agent = make_learning_agent(self.n_actions, self.obs_shape, load=load, seed=s.seed, gpu=self.gpu,
                                    lr=s.agent_lr, t_max=s.t_max, rmsprop_epsilon=s.rmsprop_epsilon, beta=s.beta)
        simulator = load_checkpoint(round_simulator(self.out, number)).build_simulator()
        use_device(self.gpu, simulator)
        warmup = max(1, s.sim_warmup if s.sim_warmup is not None else s.simulator.sequence.unroll_dep)
        source = DatasetWarmups(EpisodeDataset([self.data]).episodes, warmup,
                                seed=offset_seed(s.seed, number + state["agent_steps_done"]))
        game = SimulatedGame(simulator, n_frames=s.frame_buffer_length, max_episode_steps=s.sim_episode_len,
                             warmup_source=source, reward_mode=s.sim_reward)
        np.random.seed(offset_seed(s.seed, number + state["agent_steps_done"]))  # chainerrl samples from numpy's
        counter = StepCounter()
        returns = train(game, agent, s.agent_steps - state["agent_steps_done"],
                        RewardFilter(None, s.reward_scale_factor), stop=self.stop, recorders=[counter])
        state["agent_steps_done"] += counter.steps
        state.setdefault("sim_returns", []).extend(returns)
        previous = state["agent_partial"]
        name = "agent" if not self.stop.requested else f"agent_at_{state['agent_steps_done']}"
        shutil.rmtree(os.path.join(folder, name), ignore_errors=True)  # what a killed save left
        agent.save(os.path.join(folder, name))
        state["agent_partial"] = None if name == "agent" else name
        write_state(self.out, state)
        if previous and previous != name:
            shutil.rmtree(os.path.join(folder, previous), ignore_errors=True)
        return not self.stop.requested

    def _score(self, number) -> bool:
        s, state = self.settings, self.state
        game = self._game(offset_seed(s.seed, 1))
        agent_folder = os.path.join(round_folder(self.out, number), "agent")
        policy = SeededAgentPolicy(self.n_actions, self.obs_shape, agent_folder, s.seed, self.gpu)
        seeds = [episode_seed(s.seed, SCORE_INDEX + i) for i in range(s.score_episodes)]
        returns = []
        try:
            for _, episode in self._play_real(game, policy, seeds):
                if episode is None:
                    return False
                returns.append(float(episode.rewards.sum(dtype=np.float64)))
        finally:
            game.close()
        stats, sim_returns = summarize(returns), state.pop("sim_returns", [])
        manifest = read_manifest(self.data)
        earlier = [r for r in state["rows"] if r["round"] < number]
        updates = (earlier[-1]["simulator_updates"] if earlier else 0) + state.get("round_updates", 0)
        row = {"round": number, "episodes": len(manifest["episodes"]), "real_steps": int(manifest["total_steps"]),
               "simulator_updates": updates, "agent_steps": number * s.agent_steps,
               "sim_return_mean": summarize(sim_returns)["mean"] if sim_returns else None,
               "score_mean": stats["mean"], "score_std": stats["stdev"], "score_min": min(returns),
               "score_max": max(returns)}
        state["rows"] = [r for r in state["rows"] if r["round"] != number] + [row]
        state["agent_steps_done"] = 0
        write_rounds(self.out, state["rows"])
        print(round_line(row, s.score_episodes), flush=True)
        return True


class SeededAgentPolicy(AgentPolicy):
    """:class:`~recurrent_sim.commands.collect.AgentPolicy` whose action draws restart from the episode's
    seed, so that an episode played again (a resumed run) is the same episode."""

    def start_episode(self, seed):
        self.agent.random = np.random.RandomState(seed)


class StepCounter:
    """A recorder for :func:`~recurrent_sim.agents.episode_loops.train` that counts the steps played."""

    def __init__(self):
        self.steps = 0

    def observe(self, frame, action, reward, episode_end):
        self.steps += 1


def round_line(row, episodes) -> str:
    """The line printed when a round ends."""
    inside = "" if row["sim_return_mean"] is None else f" (mean return inside it {row['sim_return_mean']:.3g})"
    return (f"round {row['round']}: {row['episodes']} real episodes ({row['real_steps']} steps) so far; "
            f"{row['agent_steps']} agent steps in the simulator{inside}; real score {row['score_mean']:.3f} "
            f"± {row['score_std']:.3f} over {episodes} episodes")


def write_rounds(out, rows):
    """``OUT/rounds.csv`` (one row per round) and ``OUT/rounds.png`` (the real score, mean ± std, by round)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sorted(rows, key=lambda r: r["round"])
    lines = [",".join(ROUND_FIELDS)] + [",".join("" if r[f] is None else repr(r[f]) for f in ROUND_FIELDS)
                                        for r in rows]
    atomic_write(os.path.join(out, ROUNDS_FILE), lambda f: f.write(("\n".join(lines) + "\n").encode("utf-8")))
    figure = Figure(figsize=(8.0, 5.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.errorbar([r["round"] for r in rows], [r["score_mean"] for r in rows], yerr=[r["score_std"] for r in rows],
                  marker="o", capsize=4, label="real score (mean ± std)")
    axes.set_xlabel("round")
    axes.set_ylabel("episode return on the real game")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    atomic_write(os.path.join(out, CURVE_FILE), lambda f: figure.savefig(f, dpi=100, format="png"))
