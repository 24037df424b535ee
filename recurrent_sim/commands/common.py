"""Flags and builders shared by the ``recurrent-sim`` commands.

Flags use dashes; the original code's underscore spellings (``--unroll_dep``,
``--num_output_channels_sim`` ...) are accepted as aliases.
"""
import argparse

from recurrent_sim.utils.errors import UserError


def positive_int(text) -> int:
    """argparse type: an integer > 0 (accepts '1e4')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value != int(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(value)


def non_negative_int(text) -> int:
    """argparse type: an integer >= 0 (accepts '1e4')."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value != int(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(value)


def positive_float(text) -> float:
    """argparse type: a float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_env_arguments(parser, default_env="Breakout-v0"):
    """--env, --seed, --frame-size, --gpu."""
    parser.add_argument("--env", default=default_env, help=f"gym id of the game (default: {default_env})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--frame-size", type=positive_int, default=84,
        help="side of the square gray frames the simulator sees, pixels (default: 84)",
    )
    parser.add_argument("--gpu", type=int, default=-1, help="CUDA device id, -1 for CPU (default: -1)")


def add_sequence_arguments(parser):
    """--unroll-dep, --obs-dep, --pred-dep (training sequence split)."""
    parser.add_argument("--unroll-dep", "--unroll_dep", type=non_negative_int, default=15,
                        help="warm-up steps on real frames, no backprop (default: 15)")
    parser.add_argument("--obs-dep", "--obs_dep", type=non_negative_int, default=10,
                        help="observation-dependent steps (default: 10)")
    parser.add_argument("--pred-dep", "--pred_dep", type=non_negative_int, default=10,
                        help="prediction-dependent steps (default: 10)")


def curriculum_updates(text) -> tuple:
    """argparse type: comma-separated increasing positive update counts, e.g. ``1000,2000``."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1 or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(
            f"expected increasing positive update counts separated by commas, got {text!r}"
        )
    return values


def add_scheme_arguments(parser, scheme_flag="--scheme", chunks_flag="--bptt-chunks",
                         curriculum_flag="--curriculum-updates"):
    """--scheme (a training scheme of the paper), --bptt-chunks, --curriculum-updates."""
    from recurrent_sim.training.schemes import SCHEME_NAMES

    parser.add_argument(scheme_flag, choices=SCHEME_NAMES, default=None,
                        help="a training scheme of the paper by its share of prediction-dependent steps at "
                        "T = 15 (0, 33 = 10 observed then 5 predicted, 0-20-33, 46-alt, 46, 67, 0-100, 100; "
                        "see docs/fidelity.md); replaces --obs-dep/--pred-dep, --unroll-dep is its warm-up "
                        "(default: the --obs-dep/--pred-dep split)")
    parser.add_argument(chunks_flag, type=positive_int, default=None,
                        help="with --scheme: k of truncated BPTT(15, k), k chunks of 15 steps with the state "
                        "carried over and no backprop across chunks (default: 1)")
    parser.add_argument(curriculum_flag, type=curriculum_updates, default=None,
                        help="with a curriculum scheme (0-20-33, 0-100): updates at which it moves on, "
                        "e.g. 1000,2000 (default: 1000,2000 and 1000)")


def add_model_arguments(parser):
    """--hidden-size (LSTM units), --batch-size, --lr, --optimizer."""
    parser.add_argument("--hidden-size", "--num_output_channels_sim", type=positive_int, default=1024,
                        help="LSTM units of the simulator (default: 1024)")
    parser.add_argument("--batch-size", "--batch_size", type=positive_int, default=16,
                        help="sequences per update (default: 16)")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="learning rate (default: 1e-4)")
    parser.add_argument("--optimizer", choices=["adam", "rmsprop_graves"], default="adam",
                        help="adam, or the paper's centred RMSProp (default: adam)")


def training_split(schedule, scheme=None, chunks=None, curriculum=None):
    """The split of training sequences: ``schedule`` (a SequenceSchedule), or the named scheme
    with ``schedule.unroll_dep`` warm-up frames."""
    from recurrent_sim.training.schemes import Scheme

    if scheme is None:
        if chunks not in (None, 1) or curriculum:
            raise UserError("--bptt-chunks and --curriculum-updates need --scheme")
        return schedule
    try:
        return Scheme(scheme, schedule.unroll_dep, chunks or 1, curriculum)
    except ValueError as e:
        raise UserError(f"--scheme {scheme}: {e}") from None


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
