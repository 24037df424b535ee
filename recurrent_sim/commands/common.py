"""Flags and builders shared by the ``recurrent-sim`` commands.

Flags use dashes; the seed's underscore spellings (``--unroll_dep``,
``--num_output_channels_sim`` ...) are accepted as aliases.
"""
import argparse
import math

from recurrent_sim.errors import UserError


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
    """argparse type: a finite float > 0 (learning rates, scales)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def non_negative_float(text) -> float:
    """argparse type: a finite float >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def finite_float(text) -> float:
    """argparse type: any finite float."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


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


def make_game(env_id, seed=0, frame_size=84, n_frames=4):
    """A preprocessed game: gray ``frame_size`` square frames, ``n_frames`` stacked.

    Raises UserError for an unknown id (the message names close matches) or a
    game without image frames.
    """
    from recurrent_sim.envs import PreprocessedEnv
    from recurrent_sim.envs.image_games import make_image_env

    env = make_image_env(env_id, seed=seed)
    return PreprocessedEnv(env, size=(frame_size, frame_size), n_frames=n_frames)


def use_device(gpu, *links):
    """Move links to CUDA device ``gpu`` (>= 0) or keep them on the CPU.

    Raises UserError when a GPU is asked for but CuPy or the device is missing.
    """
    if gpu is None or gpu < 0:
        return
    import chainer

    if not chainer.backends.cuda.available:
        raise UserError(f"--gpu {gpu} needs CuPy and a CUDA device; install recurrent_sim[gpu] or use --gpu -1")
    device = chainer.get_device(f"@cupy:{gpu}")
    device.use()
    for link in links:
        link.to_device(device)
