"""``recurrent-sim train``: train a simulator offline on recorded episodes.

See :mod:`recurrent_sim.training.offline` for what the output folder holds.
``--resume`` continues the run in ``--out`` from its newest loadable
checkpoint, exactly; the settings that define a run (sequence split, batch
size, sizes, optimizer, learning rate, validation split, seed) are then
taken from the checkpoint, and giving a different value is an error.

Started by ``mpiexec -n N``, the run is data-parallel over N processes
(:mod:`recurrent_sim.training.data_parallel`): rank 0 locks ``--out`` and
writes everything, a set-up error on any rank stops every rank, and
``--resume`` works with any N (:mod:`recurrent_sim.training.rank_sampling`).
"""
import contextlib
import dataclasses
import logging
import os

from recurrent_sim.commands.flags import DATA, LOADTOSIM, OUT, RECIPE, RESUME
from recurrent_sim.commands.recipes import apply_recipe, recipe_names
from recurrent_sim.data.episodes import EpisodeDataset
from recurrent_sim.models import frame_settings, simulator_config
from recurrent_sim.models.skip_simulator import SKIP_ARCHITECTURE
from recurrent_sim.training.checkpoint import load_checkpoint
from recurrent_sim.training.data_parallel import COMMUNICATOR, connect
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.utils.device import GPU, use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.failures import OutputError
from recurrent_sim.utils.locks import FolderLock
from recurrent_sim.utils.run_folder import write_run_config
from recurrent_sim.utils.settings import SETTINGS
from recurrent_sim.training.offline import OfflineTrainer
from recurrent_sim.training.run_settings import OfflineSettings, RunOptions
from recurrent_sim.training.run_state import check_fresh_output, find_resume_checkpoint, options_of, settings_of
from recurrent_sim.commands.validation import (
    check_dataset_memory,
    check_simulator_memory,
    load_simulator,
    one_line_errors,
    prepare_output_folder,
)

logger = logging.getLogger(__name__)



def _setting_fields(cls, leave_out=()) -> tuple:
    """Names of the fields of dataclass ``cls`` that a :class:`Setting` defines, those of a field that
    holds a dataclass (the heads' weights) in its place."""
    names = ()
    for field in dataclasses.fields(cls):
        if field.name in leave_out:
            continue
        if dataclasses.is_dataclass(field.default):
            names += _setting_fields(type(field.default))
        elif "setting" in field.metadata:
            names += (field.name,)
    return names


# Flags that define a run (a resume must keep them: the fields of OfflineSettings, the sequence split's
# included; the encoder's size comes from --loadtosim or its default) and flags of how it runs (a resume keeps
# them unless given again: RunOptions' fields but --gpu). Both are None unless given, so that a resume can tell.
RUN_SETTINGS = _setting_fields(SequenceSchedule) + _setting_fields(OfflineSettings,
                                                                   leave_out=("sequence", "encoding_size"))
RUN_OPTIONS = _setting_fields(RunOptions, leave_out=("gpu",))

# This command's defaults where they differ from the library's: the skip simulator with the paper's 33% scheme
# (10 warm-up frames, then 10 observed and 5 predicted steps), LSTM 512, Adam 5e-4 (the first phase of the
# recipe of docs/fidelity.md; the original script keeps the paper's network and split as its defaults), and how
# the defaults read in the help.
TRAIN_ARCHITECTURE = SKIP_ARCHITECTURE
TRAIN_FLAGS = {
    "unroll_dep": dict(default=10), "obs_dep": dict(default=10), "pred_dep": dict(default=5),
    "hidden_size": dict(default=512), "lr": dict(default=5e-4),
    "scheme": dict(default_text="the --obs-dep/--pred-dep split"),
    "curriculum": dict(default_text="the scheme's"),
    "seed": dict(help="seeds the validation split, the batch order and the initial weights"),
    "architecture": dict(default=TRAIN_ARCHITECTURE,
                         default_text=f"{TRAIN_ARCHITECTURE}, with --loadtosim: the loaded simulator's"),
    "architecture_options": dict(default_text="none"),
    "heads": dict(default_text="no heads; with --loadtosim: as the loaded simulator"),
    "head_input": dict(default_text="state; with --loadtosim: as the loaded simulator"),
    "heads_only": dict(default_text="the whole simulator learns"),
    "validate_every": dict(default=None, default_text="--checkpoint-every"),
}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="train a simulator offline on episodes recorded by `collect`",
        description="Train a simulator on dataset folders, with held-out validation episodes, checkpoints "
        "and exact --resume.",
    )
    one_line_errors(parser)
    DATA.add_to(parser, nargs="*", help=f"{DATA.help} (with --resume: the run's own by default)",
                show_default=False, default_text="with --resume: the run's own")
    OUT.add_to(parser, required=True, help="output folder of the run (see `docs/persistence.md`)",
               show_default=False)
    RESUME.add_to(parser, show_default=False)
    LOADTOSIM.add_to(parser, help="start from this simulator (a folder holding simulator.npz, or a .npz file)")
    RECIPE.add_to(parser, default_text=f"none; shipped: {', '.join(recipe_names())}")
    for name in RUN_SETTINGS + RUN_OPTIONS:
        SETTINGS[name].add_to(parser, **TRAIN_FLAGS.get(name, {}))
    GPU.add_to(parser)
    COMMUNICATOR.add_to(parser, default_text="naive on the CPU, pure_nccl with --gpu; each rank uses GPU "
                        "--gpu + its rank on its machine")
    defaults = {name: parser.get_default(name) for name in RUN_SETTINGS + RUN_OPTIONS}
    parser.set_defaults(func=run, run_defaults=defaults, **{name: None for name in RUN_SETTINGS + RUN_OPTIONS})
    return parser


def _given(args, names=RUN_SETTINGS) -> dict:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _check_resume_flags(args, settings):
    stored = settings.flat()
    for name, value in _given(args).items():
        if stored[name] != value:
            flag = SETTINGS[name].flag
            raise UserError(
                f"--resume: {flag} {value} differs from this run's {stored[name]}; drop {flag} to continue "
                "the run, or start a new run in another --out"
            )


def _new_settings(args, init) -> OfflineSettings:
    values = {name: args.run_defaults[name] for name in RUN_SETTINGS}
    if init is not None:
        values.update(hidden_size=init.config.hidden_size, architecture=init.config.architecture,
                      heads=init.config.heads, head_input=init.config.head_input)
    given = _given(args)
    if init is not None and given.get("hidden_size", init.config.hidden_size) != init.config.hidden_size:
        raise UserError(
            f"--hidden-size {given['hidden_size']} differs from the {init.config.hidden_size} LSTM units of "
            f"--loadtosim {args.loadtosim}; drop --hidden-size"
        )
    if init is not None and given.get("architecture", init.config.architecture) != init.config.architecture:
        raise UserError(
            f"--architecture {given['architecture']} differs from the {init.config.architecture} simulator of "
            f"--loadtosim {args.loadtosim}; drop --architecture"
        )
    values.update(given)
    values["encoding_size"] = init.config.encoding_size if init is not None else OfflineSettings.encoding_size
    try:
        return OfflineSettings.from_flat(values)
    except ValueError as e:  # a split or a weight that cannot work (a SettingError names its flag itself)
        raise UserError(str(e)) from None


def _new_options(args) -> RunOptions:
    values = {name: args.run_defaults[name] for name in RUN_OPTIONS}
    values.update(_given(args, RUN_OPTIONS))
    if values["validate_every"] is None:
        values["validate_every"] = values["checkpoint_every"]
    return RunOptions(gpu=args.gpu, **values)


def run(args) -> int:
    apply_recipe(args, RUN_SETTINGS + RUN_OPTIONS)
    ranks = connect(args.communicator, args.gpu)
    if not ranks.is_root:  # rank 0 reports the run; the others only their warnings and errors
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))
    if args.gpu >= 0 and ranks.size > 1:
        args.gpu += ranks.intra_rank  # one GPU per rank of a machine
    use_device(args.gpu)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder")
    if args.resume and not os.path.isdir(args.out):
        raise UserError(f"--resume: {args.out} does not exist; start without --resume")
    if args.data:  # read-only checks of the dataset folders, before the lock creates --out
        check_dataset_memory(args.data)
    with contextlib.ExitStack() as stack:
        # one writer per run folder, for the whole run: rank 0; a set-up error on any rank stops all ranks
        error, checkpoint = None, None
        try:
            if ranks.is_root:
                stack.enter_context(FolderLock(args.out, "--out"))
                checkpoint = _resume_checkpoint(args)
        except (UserError, OutputError) as e:  # OutputError: the system refuses the lock file
            error = e
        ranks.agree(error)
        path = ranks.broadcast(checkpoint.path if checkpoint is not None else None)
        error, trainer = None, None
        try:
            if path is not None and checkpoint is None:  # the other ranks load what rank 0 found
                checkpoint = load_checkpoint(path)
            trainer = _build_trainer(args, ranks, checkpoint)
        except UserError as e:
            error = e
        ranks.agree(error)
        if ranks.is_root:
            _write_config(args, trainer)
        result = trainer.run()
        if ranks.is_root:
            print(result.message)
        return result.exit_code


def _resume_checkpoint(args):
    """The checkpoint to resume from (None for a new run), checked against the flags."""
    if not args.resume:
        return None
    if args.loadtosim:
        raise UserError("--loadtosim starts a new run; it cannot be combined with --resume")
    checkpoint = find_resume_checkpoint(args.out)
    _check_resume_flags(args, settings_of(checkpoint))
    return checkpoint


def _check_memory(settings, dataset, config=None):
    try:
        config = config or simulator_config(settings.architecture, **frame_settings(settings.architecture,
                                                                                    dataset.frame_shape),
                                            n_actions=dataset.n_actions, hidden_size=settings.hidden_size,
                                            encoding_size=settings.encoding_size)
    except ValueError as e:
        raise UserError(f"cannot build a simulator for this dataset: {e}") from None
    check_simulator_memory(config, settings.optimizer, settings.batch_size, settings.sequence.sequence_length - 1,
                           "--hidden-size or --batch-size")


def _build_trainer(args, ranks, checkpoint):
    out = args.out
    if checkpoint is not None:
        folders = args.data or checkpoint.metadata["dataset"]["folders"]
        if not args.data:
            check_dataset_memory(folders)
        dataset = EpisodeDataset(folders)
        _check_memory(settings_of(checkpoint), dataset, checkpoint.config)
        options = options_of(checkpoint, gpu=args.gpu, **_given(args, RUN_OPTIONS))
        return OfflineTrainer.resume(out, dataset, checkpoint, options, ranks=ranks)
    if not args.data:
        raise UserError("give at least one dataset folder (made by `recurrent-sim collect`)")
    check_fresh_output(out)
    dataset = EpisodeDataset(args.data)
    init = None
    if args.loadtosim:
        init, _ = load_simulator(args.loadtosim, "--loadtosim", dataset.frame_shape, dataset.n_actions)
    settings = _new_settings(args, init)
    _check_memory(settings, dataset, init.config if init is not None else None)
    trainer = OfflineTrainer(out, dataset, settings, _new_options(args), init=init, ranks=ranks)
    if ranks.is_root:
        prepare_output_folder(out)
    return trainer


def _write_config(args, trainer):
    write_run_config(args.out, {
        "data": [os.path.abspath(folder) for folder in trainer.dataset.folders], "out": os.path.abspath(args.out),
        "resume": args.resume, "recipe": args.recipe, "loadtosim": args.loadtosim,
        "simulator": trainer.config.to_dict(), "ranks": trainer.ranks.size, **trainer.settings.to_dict(), **dataclasses.asdict(trainer.options),
    })
