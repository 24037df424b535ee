"""Checks of user-given paths and numbers, shared by the command lines.

Each check raises :class:`recurrent_sim.utils.errors.UserError` (or a subclass)
with one line that names the flag, what is wrong and what to do, before any
long work starts and before anything is written.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

from recurrent_sim.models.agent_network import MIN_FRAME_SIZE as AGENT_MIN_FRAME_SIZE
from recurrent_sim.models.config import color_name, describe_frames
from recurrent_sim.utils.errors import UserError
from recurrent_sim.training.checkpoint import CheckpointError, NewerFormatError, describe, load_checkpoint
from recurrent_sim.utils.memory import check_fits


def prepare_output_folder(path, flag="--out") -> str:
    """Create the folder ``path`` if missing and check that files can be written in it."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{flag} {path} is a file; give a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot write there ({e.strerror})") from None
    return path


def load_simulator(path, flag="--loadtosim", frame_shape=None, n_actions=None, build=False, batch_size=1,
                   batch_flags=""):
    """Read a simulator checkpoint and check it fits the game: the one loader of every command.

    Args:
        path: a ``.npz`` checkpoint or a folder holding ``simulator.npz`` (a
            --pretrained name is first turned into its folder by
            :func:`recurrent_sim.commands.common.simulator_path`).
        flag: the flag named at the start of a message, or None for messages
            that start with the path.
        frame_shape: the shape of the game's or dataset's stored frames ((H, W) gray, (3, H, W) RGB),
            or None not to check.
        n_actions: the game's number of actions, or None not to check.
        build: also build the simulator, after checking that it fits in
            memory with ``batch_size`` sequences
            (``batch_flags`` name the flags behind that size); it must hold a
            mean image (have been trained at least once).
    Returns:
        (checkpoint, simulator): the :class:`recurrent_sim.training.checkpoint.Checkpoint`
        and the simulator built from it (None unless ``build``).
    Raises:
        CheckpointError: missing, truncated, corrupted, foreign, made for
            another frame size or action count, or never trained.
    """
    try:
        checkpoint = load_checkpoint(path)
    except UserError as e:
        if flag is None:
            raise
        raise type(e)(f"{flag}: {e}") from None
    config = checkpoint.config
    wrong_frames = frame_shape is not None and tuple(config.image_shape) != tuple(frame_shape)
    wrong_actions = n_actions is not None and config.n_actions != int(n_actions)
    if wrong_frames or wrong_actions:
        wanted = []
        if frame_shape is not None:
            wanted.append(f"{describe_frames(frame_shape)} frames")
        if n_actions is not None:
            wanted.append(f"{n_actions} actions")
        raise CheckpointError(
            f"{flag + ' ' if flag else ''}{path}: the simulator has {describe(config)}, but this game needs "
            f"{' and '.join(wanted)}; train a simulator for it or pick the matching --env / --frame-size"
        )
    if not build:
        return checkpoint, None
    check_simulator_memory(config, batch_size=batch_size, flags=batch_flags)
    simulator = checkpoint.build_simulator()
    check_mean_image(checkpoint, simulator)
    return checkpoint, simulator


def game_frames(checkpoint) -> dict:
    """The ``make_game`` keywords of the frames ``checkpoint``'s simulator predicts: ``frame_size``
    ((height, width)) and ``color`` ("gray" or "rgb")."""
    config = checkpoint.config
    return dict(frame_size=tuple(config.frame_shape), color=color_name(config.channels))


def check_mean_image(checkpoint, simulator):
    """CheckpointError when ``simulator`` (built from ``checkpoint``) has no mean image yet."""
    if not simulator.has_mean_image:
        raise CheckpointError(f"{checkpoint.path} has no mean image: it was saved before any training update")


def check_savesim_folder(path, config, flag="--savesim") -> str:
    """Prepare the folder the best simulator will be saved in.

    Refuses a folder whose ``simulator.npz`` holds a simulator of another
    architecture: saving would destroy it.
    """
    path = prepare_output_folder(path, flag)
    existing = os.path.join(path, "simulator.npz")
    if os.path.exists(existing):
        try:
            held = load_checkpoint(existing).config
        except NewerFormatError:
            raise  # not damaged: a newer recurrent_sim's simulator is not replaced
        except UserError:
            return path  # a damaged file: nothing to protect
        if held != config:
            raise UserError(
                f"{flag} {path} already holds a simulator with {describe(held)}; this run trains one with "
                f"{describe(config)}: choose another folder, or --loadtosim {path} to continue it"
            )
    return path


def check_agent_frame_size(frame_size, advice):
    """One line (UserError) when frames of ``frame_size`` pixels are too small for the agent's
    network; ``advice`` ends the line (what to change)."""
    if frame_size < AGENT_MIN_FRAME_SIZE:
        raise UserError(f"--frame-size {frame_size} is too small for the agent, which needs frames of "
                        f"{AGENT_MIN_FRAME_SIZE} pixels or more; {advice}")


def check_buffer_size(capacity, sequence, flag="--buffer_size_sim") -> int:
    """Refuse a sample buffer that can never hold one training sequence.

    Args:
        capacity: transitions the buffer keeps.
        sequence: the :class:`SequenceSchedule` whose ``sequence_length``
            (unroll_dep + obs_dep + pred_dep + 1) frames a sequence needs.
    """
    if capacity < sequence.sequence_length:
        raise UserError(
            f"{flag} {capacity} is too small: a training sequence needs unroll_dep + obs_dep + pred_dep + 1 = "
            f"{sequence.sequence_length} consecutive frames; raise {flag} or shorten the sequence"
        )
    return capacity


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` report a bad flag in one line (exit status 2), not with the usage block."""

    def error(message):
        print(f"{parser.prog}: error: {message} (see {parser.prog} --help)", file=sys.stderr)
        sys.exit(2)

    parser.error = error
    return parser


def check_simulator_memory(config, optimizer=None, batch_size=1, steps=1, flags="") -> int:
    """Refuse, before building it, a simulator (with ``optimizer`` state and the activations of
    ``batch_size`` sequences of ``steps`` steps) that cannot fit in the memory available.

    ``flags`` names the flags behind the sizes, for the message. Returns the estimate in bytes.
    """
    from recurrent_sim.models.footprint import simulator_bytes

    estimate = simulator_bytes(config, optimizer, batch_size, steps)
    what = f"the simulator ({config.describe_frames()} frames, {config.hidden_size} LSTM units"
    what += f", batch {batch_size} x {steps} steps)" if optimizer else ")"
    return check_fits(estimate, what, f"lower {flags}" if flags else "use smaller sizes")


def check_dataset_memory(folders) -> int:
    """Refuse dataset folders whose frames cannot all be held in memory (read from their manifests)."""
    from recurrent_sim.data.episodes import read_manifest

    total = 0
    for folder in folders:
        manifest = read_manifest(folder)
        frame_bytes = int(np.prod(manifest["frame_shape"]))
        total += (int(manifest["total_steps"]) + len(manifest["episodes"])) * (frame_bytes + 9)
    return check_fits(total, f"the episodes of {', '.join(map(str, folders))}", "train on fewer episodes")
