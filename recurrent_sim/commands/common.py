"""Flags and builders shared by the ``recurrent-sim`` commands.

Every flag is built from its setting's one definition
(:class:`recurrent_sim.utils.settings.Setting`). Flags use dashes; the
original code's underscore spellings (``--unroll_dep``,
``--num_output_channels_sim`` ...) are accepted as aliases.
"""
from recurrent_sim.commands.flags import LOADTOSIM, PRETRAINED
from recurrent_sim.envs.preprocessing import COLOR, FRAME_SIZE, frame_shape_value
from recurrent_sim.envs.registration import ENV
from recurrent_sim.training.sequence_loss import OBS_DEP, PRED_DEP, UNROLL_DEP
from recurrent_sim.utils.device import GPU
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import SEED


def add_env_arguments(parser, default_env=ENV.default, frame_choices=False):
    """--env, --seed, --frame-size, --gpu; with ``frame_choices`` (collection) --frame-size takes
    HEIGHTxWIDTH too (parsed to (height, width)) and --color picks gray or RGB frames."""
    ENV.add_to(parser, default=default_env)
    SEED.add_to(parser)
    if frame_choices:
        FRAME_SIZE.add_to(parser, default="84", type=frame_shape_value, metavar="SIZE",
                          help="frames the simulator sees, pixels: a side (84: 84x84) or HEIGHTxWIDTH (210x160: "
                          "Atari's own frames, the paper's)")
        COLOR.add_to(parser)
    else:
        FRAME_SIZE.add_to(parser)
    GPU.add_to(parser)


def add_simulator_source(parser, what="the simulator"):
    """--loadtosim DIR or --pretrained NAME, exactly one of them; ``what`` the simulator is for, in their help."""
    source = parser.add_mutually_exclusive_group(required=True)
    one_of = "one of --loadtosim, --pretrained is required"
    LOADTOSIM.add_to(source, help=f"{LOADTOSIM.help}: {what}", show_default=False, default_text=one_of)
    PRETRAINED.add_to(source, show_default=False, default_text=one_of)


def simulator_path(args) -> str:
    """The checkpoint of :func:`add_simulator_source`'s flags: --loadtosim, or the shipped simulator
    --pretrained names (UserError for an unknown name)."""
    if args.loadtosim is not None:
        return args.loadtosim
    from recurrent_sim.pretrained import pretrained_path

    return pretrained_path(args.pretrained)


def add_sequence_arguments(parser, **defaults):
    """--unroll-dep, --obs-dep, --pred-dep (training sequence split); ``defaults`` changes some defaults."""
    for setting in (UNROLL_DEP, OBS_DEP, PRED_DEP):
        setting.add_to(parser, default=defaults.get(setting.name, setting.default))


def sequence_schedule(args):
    """SequenceSchedule from the flags of :func:`add_sequence_arguments`."""
    from recurrent_sim.training import SequenceSchedule

    try:
        return SequenceSchedule(args.unroll_dep, args.obs_dep, args.pred_dep)
    except ValueError as e:
        raise UserError(str(e)) from None


def run_settings(args) -> dict:
    """Every setting of a command, from its parsed flags (for the run's ``config.json``)."""
    return {name: value for name, value in vars(args).items() if name not in ("func", "run_defaults")}
