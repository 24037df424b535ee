"""``recurrent-sim dyna``: SimPLe's loop in one command, resumable.

K rounds of: play real episodes with the current agent, train the simulator
(with heads) on every episode so far, train the A3C agent only inside that
simulator, score the agent on the real game. Round r starts from round
r - 1's simulator and agent (see :mod:`recurrent_sim.commands.dyna_rounds`
for the phases). The run folder ``--out`` holds::

    OUT/data/                      every real episode played (a `collect` dataset)
    OUT/round_RRR/simulator/       the round's simulator training run (as `recurrent-sim train --out`)
    OUT/round_RRR/agent/           the round's agent (model.npz, optimizer.npz, agent.json)
    OUT/rounds.csv, OUT/rounds.png the real score of each round (mean, std, min, max), and its curve
    OUT/dyna.json                  settings, the round and phase to do next, the rounds' rows
    OUT/config.json                the command's settings, package versions, git commit

Ctrl-C or SIGTERM stops at the next safe point (between episodes, updates or
agent steps) with what was done saved; ``--resume`` continues in the round
and phase where it stopped, never redoing a finished round, and may ask for
more ``--rounds``. The settings that define the run are then taken from
``dyna.json``; giving a different value is an error.
"""
import dataclasses
import os
from typing import Optional

from recurrent_sim.agents.settings import AGENT_LR, BETA, REWARD_SCALE_FACTOR, RMSPROP_EPSILON, T_MAX
from recurrent_sim.commands.flags import MAX_EPISODE_STEPS, OUT, RESUME
from recurrent_sim.commands.dyna_rounds import (
    STATE_FILE, DynaRun, new_state, read_state, simulator_settings, write_state,
)
from recurrent_sim.commands.validation import check_agent_frame_size, check_simulator_memory, one_line_errors
from recurrent_sim.envs.batched_simulated_game import SIM_EPISODE_LEN, SIM_REWARD
from recurrent_sim.envs.preprocessing import FRAME_BUFFER_LENGTH, FRAME_SIZE
from recurrent_sim.envs.registration import ENV, make_game
from recurrent_sim.models.footprint import MAX_ACTIONS, agent_bytes
from recurrent_sim.models.registry import simulator_config
from recurrent_sim.training.heads_loss import HeadWeights
from recurrent_sim.training.run_settings import OfflineSettings
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.utils.device import GPU, use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.locks import FolderLock
from recurrent_sim.utils.memory import check_fits
from recurrent_sim.utils.run_folder import write_run_config
from recurrent_sim.utils.settings import SEED, SETTINGS, Setting, non_negative_float, positive_int
from recurrent_sim.utils.signals import StopRequest

ROUNDS = Setting("rounds", 3, "rounds of: collect, train the simulator, train the agent in it, score it; "
                 "--resume may ask for more", positive_int)
SIM_CPU_MINUTES = Setting("sim_cpu_minutes", 0.0, "also end each round's simulator training after this many "
                          "minutes of processor time of this process (0: --sim-updates alone)", non_negative_float)
EPISODES_PER_ROUND = Setting("episodes_per_round", 100, "real episodes the current agent plays each round",
                             positive_int)
SIM_UPDATES = Setting("sim_updates", 1000, "simulator updates per round, on every episode so far", positive_int)
AGENT_STEPS = Setting("agent_steps", 20000, "steps the A3C agent trains inside the simulated game per round",
                      positive_int)
SIM_WARMUP = Setting("sim_warmup", None, "real frames (windows of OUT/data) each simulated episode starts from "
                     "(default: --unroll-dep)", positive_int)
SCORE_EPISODES = Setting("score_episodes", 50, "real episodes each round's agent is scored on (the same seeds "
                         "every round)", positive_int)


# The simulator each round trains (with heads; its seed is the round's own). Its defaults follow the shipped
# BlockWorld simulator's recipe (recurrent_sim/pretrained/blockworld/TRAINED_WITH.md: the motion architecture,
# heads that read the predicted frame); the flags of SIMULATOR_FLAGS change them.
SIMULATOR = OfflineSettings(sequence=SequenceSchedule(4, 8, 4), architecture="motion", hidden_size=128, lr=5e-4,
                            heads=True, head_input="frame", head_weights=HeadWeights(0.3, 0.3, 0.03, 10.0))
SIMULATOR_FLAGS = ("architecture", "head_input", "unroll_dep", "obs_dep", "pred_dep", "hidden_size", "batch_size",
                   "optimizer", "lr", "validation_fraction", "reward_weight", "done_weight", "done_positive_weight",
                   "error_weight")


@dataclasses.dataclass(frozen=True)
class DynaSettings:
    """What defines a dyna run (kept by ``--resume``); each field's flag and help come from its setting,
    the simulator's from those of :class:`~recurrent_sim.training.run_settings.OfflineSettings`.

    The agent's defaults are the A3C setting that learns BlockWorld (docs/agents.md).
    """

    env: str = ENV.field("BlockWorld-v1")
    seed: int = SEED.field()
    frame_size: int = FRAME_SIZE.field(32)
    frame_buffer_length: int = FRAME_BUFFER_LENGTH.field()
    episodes_per_round: int = EPISODES_PER_ROUND.field()
    max_episode_steps: Optional[int] = MAX_EPISODE_STEPS.field()
    # the simulator
    sim_updates: int = SIM_UPDATES.field()
    simulator: OfflineSettings = SIMULATOR
    # the agent inside it, and its score
    agent_steps: int = AGENT_STEPS.field()
    agent_lr: float = AGENT_LR.field()
    t_max: int = T_MAX.field(20)
    rmsprop_epsilon: float = RMSPROP_EPSILON.field(1e-5)
    beta: float = BETA.field()
    reward_scale_factor: float = REWARD_SCALE_FACTOR.field(1.0)
    sim_episode_len: int = SIM_EPISODE_LEN.field()
    sim_reward: str = SIM_REWARD.field("expected")
    sim_warmup: Optional[int] = SIM_WARMUP.field()
    score_episodes: int = SCORE_EPISODES.field()

    def flat(self) -> dict:
        """The settings by flag name: dyna.json's and config.json's keys."""
        values = {}
        for field in dataclasses.fields(self):
            if field.name == "simulator":
                simulator = self.simulator.flat()
                values.update({name: simulator[name] for name in SIMULATOR_FLAGS})
            else:
                values[field.name] = getattr(self, field.name)
        return values

    @classmethod
    def from_flat(cls, values: dict) -> "DynaSettings":
        """The settings of :meth:`flat`'s names (those missing keep their defaults); ValueError (a
        SettingError names its setting) for values that cannot work."""
        values = dict(values)
        simulator = SIMULATOR.flat()
        simulator.update({name: values.pop(name) for name in SIMULATOR_FLAGS if name in values})
        return cls(simulator=OfflineSettings.from_flat(simulator), **values)


DEFAULTS = DynaSettings().flat()  # by flag name
DEFINING = tuple(DEFAULTS)
# what runs made before these settings existed used: a resumed run of theirs goes on with them
EARLIER_DEFAULTS = {"architecture": "skip", "head_input": "state", "t_max": 5, "rmsprop_epsilon": 1e-1, "beta": 1e-2}
CHANGEABLE = ("rounds", "sim_cpu_minutes")  # a resume keeps them unless given again


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "dyna",
        help="alternate playing, training the simulator and training an agent inside it (SimPLe's loop)",
        description="Each round: the current agent plays real episodes, the simulator trains on all "
        "episodes so far, the agent trains inside the simulator, and is scored on the real game "
        "(rounds.csv). Ctrl-C stops cleanly; --resume continues where it stopped.",
    )
    one_line_errors(parser)
    OUT.add_to(parser, required=True, help="run folder (see docs/dyna.md)", show_default=False)
    RESUME.add_to(parser, help="continue the run in --out where it stopped", show_default=False)
    ROUNDS.add_to(parser)
    for name in DEFINING:  # a setting whose default is None says it in its help
        field_help = "the simulator's learning rate" if name == "lr" else None
        SETTINGS[name].add_to(parser, default=DEFAULTS[name], help=field_help, show_default=DEFAULTS[name] is not None)
    SIM_CPU_MINUTES.add_to(parser)
    GPU.add_to(parser)
    defaults = {name: parser.get_default(name) for name in DEFINING + CHANGEABLE}
    parser.set_defaults(func=run, run_defaults=defaults, **{name: None for name in DEFINING + CHANGEABLE})
    return parser


def _given(args, names) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _check(settings: DynaSettings) -> int:
    """Every check of the settings, before anything is written; returns the game's number of actions."""
    if settings.frame_size < 16:
        raise UserError(f"--frame-size {settings.frame_size} is too small: the simulator needs 16 pixels or more")
    check_agent_frame_size(settings.frame_size, "use a larger --frame-size")
    if settings.simulator.validation_fraction > 0 and settings.episodes_per_round < 2:
        raise UserError("--episodes-per-round 1 leaves round 1 no episode to validate on: collect 2 or more, "
                        "or pass --validation-fraction 0")
    sim = simulator_settings(settings, 1)
    size = settings.frame_size
    obs_shape = (settings.frame_buffer_length, size, size)
    check_fits(agent_bytes(obs_shape, MAX_ACTIONS, learning=True), f"the agent (--frame-size {size})",
               "lower --frame-size")
    game = make_game(settings.env, seed=settings.seed, frame_size=size, n_frames=settings.frame_buffer_length)
    n_actions = game.action_space.n
    game.close()
    try:
        config = simulator_config(sim.architecture, frame_shape=(size, size), n_actions=n_actions,
                                  hidden_size=sim.hidden_size, encoding_size=sim.encoding_size, heads=True)
    except ValueError as e:
        raise UserError(f"cannot build a simulator for this game: {e}") from None
    check_simulator_memory(config, sim.optimizer, sim.batch_size, sim.sequence_length - 1,
                           "--hidden-size or --batch-size")
    return n_actions


def _new_run(args):
    """(settings, state) of a new run, checked; refuses an --out that holds anything."""
    values = {name: args.run_defaults[name] for name in DEFINING}
    values.update(_given(args, DEFINING))
    try:
        settings = DynaSettings.from_flat(values)
    except ValueError as e:  # a split that cannot work
        raise UserError(str(e)) from None
    if os.path.isfile(os.path.join(args.out, STATE_FILE)):
        raise UserError(f"--out {args.out} already holds a dyna run: add --resume to continue it, or choose "
                        "another --out")
    if os.path.isdir(args.out) and any(name != ".lock" for name in os.listdir(args.out)):
        raise UserError(f"--out {args.out} is not empty: give a new or empty folder")
    return settings, new_state(settings)


def _resumed_run(args):
    """(settings, state) of the run in --out; the flags given must agree with its settings."""
    try:
        state = read_state(args.out)
        settings = DynaSettings.from_flat({**EARLIER_DEFAULTS, **state["settings"]})
    except FileNotFoundError:
        raise UserError(f"--resume: {args.out} holds no dyna run ({STATE_FILE}); start without --resume") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise UserError(f"--resume: cannot read {os.path.join(args.out, STATE_FILE)} ({e}); start a new run "
                        "in another --out") from None
    stored = settings.flat()
    for name, value in _given(args, DEFINING).items():
        if stored[name] != value:
            flag = "--" + name.replace("_", "-")
            raise UserError(f"--resume: {flag} {value} differs from this run's {stored[name]}; drop "
                            f"{flag} to continue the run, or start a new run in another --out")
    return settings, state


def run(args) -> int:
    use_device(args.gpu)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder")
    if args.resume and not os.path.isdir(args.out):
        raise UserError(f"--resume: {args.out} does not exist; start without --resume")
    if not args.resume:  # every check before the lock creates --out
        settings, state = _new_run(args)
        n_actions = _check(settings)
    with FolderLock(args.out, "--out"):  # one writer per run folder
        if args.resume:
            settings, state = _resumed_run(args)
            n_actions = _check(settings)
        else:
            settings, state = _new_run(args)  # again, under the lock
            write_state(args.out, state)
        changeable = {name: args.run_defaults[name] for name in CHANGEABLE}
        changeable.update(state.get("options", {}), **_given(args, CHANGEABLE))
        state["options"] = changeable
        write_run_config(args.out, {"out": os.path.abspath(args.out), "resume": args.resume, "gpu": args.gpu,
                                    **changeable, **settings.flat()})
        rounds = changeable["rounds"]
        if state["round"] > rounds:
            print(f"{args.out} already holds {state['round'] - 1} rounds; nothing to do (ask for more with --rounds)")
            return 0
        with StopRequest() as stop:
            dyna = DynaRun(args.out, settings, state, stop, n_actions, gpu=args.gpu,
                           sim_cpu_minutes=changeable["sim_cpu_minutes"])
            finished = dyna.play(rounds)
        if not finished:
            write_state(args.out, state)
            print(f"{stop.name} received: stopped in round {state['round']} ({state['phase']} phase); "
                  "continue with --resume")
            return stop.exit_code
        print(f"{args.out}: {rounds} rounds; real scores in {os.path.join(args.out, 'rounds.csv')}")
        return 0

