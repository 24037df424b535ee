"""Every check of the original script, before anything is written, and the run folder.

A refused run leaves nothing on disk: :func:`check_args` refuses flag
combinations, :func:`prepare_training` and :func:`prepare_simulator` load
or build the simulator (its memory estimated first) and say what --savesim
may replace; only then does :func:`prepare_outdir` make the run folder.
"""
import dataclasses
import logging
import os
import sys
from typing import Optional, Union

import chainer
import chainerrl.experiments

from recurrent_sim.commands.original.games import frame_size, load_loadtosim, probe_actions
from recurrent_sim.commands.validation import check_agent_frame_size, check_buffer_size, check_simulator_memory
from recurrent_sim.models import HIDDEN_SIZE, SimulatorBase, build_simulator, simulator_config
from recurrent_sim.models.footprint import sample_buffer_bytes
from recurrent_sim.pretrained import pretrained_path
from recurrent_sim.training import SequenceSchedule, TrainingSchedule, make_optimizer
from recurrent_sim.training.checkpoint import Checkpoint
from recurrent_sim.training.savesim import SavesimPlan, plan_savesim
from recurrent_sim.training.schemes import Scheme, training_split
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import display_path
from recurrent_sim.utils.memory import check_fits
from recurrent_sim.utils.run_folder import write_run_config

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainingSetup:
    """What a training run needs, every check passed.

    Attributes:
        n_actions: the game's number of actions.
        simulator: the simulator to train (loaded with --loadtosim, or new), on its device.
        optimizer: its optimizer (state restored from the checkpoint when it has one).
        sequence: what splits the training sequences (the --obs_dep/--pred_dep split or a --scheme).
        schedule: batch size, warm-up, training and saving intervals, in steps.
        plan: what --savesim may replace (None without --savesim).
    """

    n_actions: int
    simulator: SimulatorBase
    optimizer: chainer.Optimizer
    sequence: Union[SequenceSchedule, Scheme]
    schedule: TrainingSchedule
    plan: Optional[SavesimPlan]


@dataclasses.dataclass
class SimulatorSetup:
    """What --demo and --train-in-sim need: the game's number of actions and the trained
    simulator of ``checkpoint`` (--loadtosim or --pretrained-sim), on its device."""

    n_actions: int
    checkpoint: Checkpoint
    simulator: SimulatorBase


def sequence_split(args) -> Union[SequenceSchedule, Scheme]:
    """The split of the training sequences from the flags; UserError when it cannot work."""
    try:
        return training_split(SequenceSchedule(args.unroll_dep, args.obs_dep, args.pred_dep), args.scheme,
                              args.bptt_chunks, args.curriculum)
    except ValueError as e:
        raise UserError(str(e)) from None


def check_args(args):
    """Refuse flag combinations that cannot work, in one line (single values are checked by the parser).

    --pretrained-sim NAME becomes --loadtosim (the shipped simulator's folder).
    """
    if args.pretrained_sim is not None:
        if args.loadtosim:
            raise UserError("give --loadtosim or --pretrained-sim, not both")
        args.loadtosim = pretrained_path(args.pretrained_sim)
    if args.processes < 1:
        raise UserError(f"processes must be at least 1 (got {args.processes})")
    if args.lr_decay and (args.processes > 1 or args.agent != "a3c" or args.demo):
        raise UserError("--lr-decay needs a learning agent (--agent a3c, not --demo) and processes 1")
    if (args.demo or args.train_in_sim) and args.processes > 1:
        raise UserError(f"processes must be 1 with {'--demo' if args.demo else '--train-in-sim'} "
                        f"(got {args.processes}): it plays one game")
    if not args.demo and not args.train_in_sim:  # the training split, before any folder is made
        sequence_split(args)
    if args.train_in_sim and (args.demo or not args.loadtosim or args.agent != "a3c" or args.savesim):
        raise UserError("--train-in-sim needs --loadtosim DIR and --agent a3c, and takes neither --demo nor --savesim")
    if args.demo and not args.loadtosim:
        raise UserError("--demo needs --loadtosim DIR, a simulator saved by a training run with --savesim DIR")
    if args.demo and args.eval_n_runs < 1:
        raise UserError("--demo needs --eval-n-runs >= 1 (episodes to play in the simulator)")
    if args.frame_size is not None:
        check_agent_frame_size(args.frame_size, "use a larger --frame-size")
    if os.path.exists(args.outdir) and not os.path.isdir(args.outdir):
        raise UserError(f"--outdir {args.outdir} exists and is not a folder")


def prepare_training(args) -> TrainingSetup:
    """Every check of a training run: the simulator (loaded or new, its memory and that of the
    sample buffer estimated first), its optimizer, and what --savesim may replace."""
    sequence = sequence_split(args)
    try:
        schedule = TrainingSchedule(args.batch_size, args.warm_up_steps, args.training_steps, args.saving_steps)
    except ValueError as e:
        raise UserError(str(e)) from None
    check_buffer_size(args.buffer_size_sim // args.processes, sequence,
                      "--buffer_size_sim" if args.processes == 1 else "--buffer_size_sim / processes")
    n_actions = probe_actions(args)
    checkpoint = load_loadtosim(args, n_actions) if args.loadtosim else None
    if checkpoint is not None:
        config = checkpoint.config
    else:
        size = frame_size(args)
        try:
            config = simulator_config(args.sim_architecture, frame_shape=(size, size), n_actions=n_actions,
                                      hidden_size=args.num_output_channels_sim or HIDDEN_SIZE.default,
                                      heads=args.sim_heads)
        except ValueError as e:
            raise UserError(str(e)) from None
    h, w = config.frame_shape
    memory = check_simulator_memory(config, args.optimizer_sim, args.batch_size, sequence.sequence_length - 1,
                                    "--num_output_channels_sim, --frame-size or --batch_size")
    check_fits(memory + sample_buffer_bytes(args.buffer_size_sim, (h, w)),
               f"the simulator and its sample buffer of {args.buffer_size_sim} {h}x{w} frames",
               "lower --buffer_size_sim or --num_output_channels_sim")
    plan = None
    if args.savesim:
        plan = plan_savesim(args.savesim, config, args.env, dataclasses.asdict(sequence),
                            checkpoint.path if checkpoint else None, args.overwrite)
    simulator = checkpoint.build_simulator() if checkpoint is not None else build_simulator(config)
    use_device(args.gpu, simulator)
    optimizer = make_optimizer(simulator, args.optimizer_sim, lr=args.lr_sim)
    if checkpoint is not None and checkpoint.has_optimizer:
        try:
            checkpoint.restore_optimizer(optimizer)
        except UserError as e:
            logger.warning("optimizer state not restored (%s); it starts afresh", e)
    return TrainingSetup(n_actions, simulator, optimizer, sequence, schedule, plan)


def prepare_simulator(args) -> SimulatorSetup:
    """Every check of --demo and --train-in-sim: the loaded simulator, trained, on its device."""
    n_actions = probe_actions(args)
    checkpoint = load_loadtosim(args, n_actions)
    check_simulator_memory(checkpoint.config)
    simulator = checkpoint.build_simulator()
    if not simulator.has_mean_image:
        raise UserError(f"{checkpoint.path} holds a simulator that was never trained (no mean image)")
    use_device(args.gpu, simulator)
    return SimulatorSetup(n_actions, checkpoint, simulator)


def prepare_outdir(args, argv) -> str:
    """A new time-stamped folder under --outdir (chainerrl's: args.txt, command.txt, environ.txt, git
    state) with the run's config.json (every flag, package versions, git commit)."""
    # chainerrl writes command.txt as UTF-8 text: names that are not UTF-8 go in as \xNN
    outdir = chainerrl.experiments.prepare_output_dir(args, args.outdir,
                                                      argv=[sys.executable] + [display_path(a) for a in argv])
    write_run_config(outdir, vars(args), argv=[sys.executable] + list(argv))
    return outdir
