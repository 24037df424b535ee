"""Flags and builders shared by the ``recurrent-sim`` commands.

Flags use dashes; the original code's underscore spellings (``--unroll_dep``,
``--num_output_channels_sim`` ...) are accepted as aliases.
"""
import argparse
import math

from recurrent_sim.utils.errors import UserError


def _number_type(name, expected, accept, integer=False):
    """An argparse type reading a finite number (integers may be written '1e4') that ``accept``s."""

    def convert(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accept(value) and (not integer or value == int(value))):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return int(value) if integer else value

    convert.__name__ = name
    convert.__doc__ = f"argparse type: {expected}."
    return convert


positive_int = _number_type("positive_int", "a positive integer", lambda v: v > 0, integer=True)
non_negative_int = _number_type("non_negative_int", "an integer >= 0", lambda v: v >= 0, integer=True)
positive_float = _number_type("positive_float", "a positive finite number", lambda v: v > 0)
non_negative_float = _number_type("non_negative_float", "a finite number >= 0", lambda v: v >= 0)
finite_float = _number_type("finite_float", "a finite number", lambda v: True)


def game_id(text) -> str:
    """argparse type: a non-empty gym id."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected the gym id of a game (such as Breakout-v0), got ''")
    return text


def add_env_arguments(parser, default_env="Breakout-v0"):
    """--env, --seed, --frame-size, --gpu."""
    parser.add_argument("--env", type=game_id, default=default_env, help=f"gym id of the game (default: {default_env})")
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


def add_model_arguments(parser):
    """--hidden-size (LSTM units), --batch-size, --lr, --optimizer."""
    parser.add_argument("--hidden-size", "--num_output_channels_sim", type=positive_int, default=1024,
                        help="LSTM units of the simulator (default: 1024)")
    parser.add_argument("--batch-size", "--batch_size", type=positive_int, default=16,
                        help="sequences per update (default: 16)")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="learning rate (default: 1e-4)")
    parser.add_argument("--optimizer", choices=["adam", "rmsprop_graves"], default="adam",
                        help="adam, or the paper's centred RMSProp (default: adam)")


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
