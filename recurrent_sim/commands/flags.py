"""The settings that exist only on the ``recurrent-sim`` command lines, and the walk over their flags.

The library's settings are defined beside the code that uses them
(``BATCH_SIZE`` in :mod:`recurrent_sim.training.run_settings` ...); the ones
here name folders, servers and evaluation sizes that no library class holds
(those the original script shares, ``--load``, ``--loadtosim``, ``--recipe`` ...,
live where its import stays light and are imported here).
Every flag of every command is built by :meth:`Setting.add_to` from one of
them (``tests/commands_tests/test_flags_from_settings.py`` fails otherwise);
a command specialises a setting's default or help where its meaning there
is narrower (``--out`` is a dataset folder for ``collect``, a run folder for
``train``).
"""
import argparse

from recurrent_sim.agents.settings import LOAD  # NOQA: F401 (shared with the original script)
from recurrent_sim.commands.recipes import RECIPE  # NOQA: F401
from recurrent_sim.envs.preprocessing import MAX_EPISODE_STEPS  # NOQA: F401
from recurrent_sim.evaluation.metrics import DEFAULT_THRESHOLD_FRACTION
from recurrent_sim.evaluation.objects import DEFAULT_DISTANCE, DEFAULT_LEVEL
from recurrent_sim.pretrained import LOADTOSIM, PRETRAINED  # NOQA: F401
from recurrent_sim.utils.settings import Check, Setting, positive_float, positive_int

_positive = Check(lambda v: v > 0, "a positive integer")

LOG_LEVEL = Setting("log_level", "INFO", "logging level", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
OUT = Setting("out", None, "output folder", metavar="DIR")
DATA = Setting("data", (), "dataset folders made by `recurrent-sim collect`", flags=("data",), metavar="DATASET")
RESUME = Setting("resume", False, "continue the run in --out from its newest checkpoint", bool)

# collect
EPISODES = Setting("episodes", 10, "episodes the folder holds when the command ends", positive_int)
POLICY = Setting("policy", "agent", "who plays: the A3C agent (non-learning, or trained with --load) or uniformly "
                 "random actions", choices=("agent", "random"))

# evaluate and play
WARMUP = Setting("warmup", 10, "real frames the simulator sees before predicting (10 in the paper)", int,
                 check=_positive, metavar="N")
HORIZON = Setting("horizon", 100, "steps predicted from the actions alone after the warm-up", int,
                  check=_positive, metavar="N")
SEQUENCES = Setting("sequences", 100, "held-out sequences the errors are averaged over", int, check=_positive,
                    metavar="N")
THRESHOLD = Setting(
    "threshold", None,
    "accurate-horizon threshold as a fraction of the mean-frame baseline's error (averaged over the horizon); the "
    "accurate horizon is the first step whose mean model MSE exceeds it. The mean frame's error is the pixel "
    f"variance of the game around its average picture, so the default {DEFAULT_THRESHOLD_FRACTION} means: accurate "
    "while the model still explains at least half of that variance, whatever the game's brightness or amount of "
    "motion", positive_float, metavar="FRACTION")
THRESHOLD_MSE = Setting("threshold_mse", None, "absolute accurate-horizon threshold, MSE per pixel with pixels in "
                        "[0, 1], to compare evaluations of different runs on one scale (replaces --threshold)",
                        positive_float, metavar="MSE")
OBJECT_LEVEL = Setting(
    "object_level", DEFAULT_LEVEL,
    "a pixel is foreground (part of a moving object) when its gray level (0..255) differs by more than this from "
    "the sequence's per-pixel median real frame; 30 keeps Breakout's 1-3 pixel ball at 84x84", float,
    check=Check(lambda v: 0 <= v < 255, "a gray level in 0..255 (exclusive)"), metavar="GRAY")
OBJECT_DISTANCE = Setting(
    "object_distance", DEFAULT_DISTANCE,
    "an object counts as found when its centre lies within this many pixels of the other frame's foreground "
    "(object recall and precision)", float,
    check=Check(lambda v: 0 <= v < float("inf"), "a number of pixels >= 0"), metavar="PIXELS")
MAX_GAP = Setting("max_gap", 20, "at most this many unrecorded steps before each sequence, so sequences start at "
                  "varied moments", int, check=Check(lambda v: v >= 0, ">= 0"), metavar="N")
FPS = Setting("fps", 10.0, "frames per second of rollout.gif", positive_float, metavar="F")

# play
HOST = Setting("host", "127.0.0.1", "address to listen on: this machine only by default; any other address lets "
               "others on the network play and write GIFs, and prints a warning")
ALLOW_HOST = Setting("allow_host", (), "a name or address of this machine that browsers may use to reach the page, "
                     "besides 127.0.0.1, localhost, [::1] and --host (repeatable; requests naming any other host "
                     "are refused, so that other web sites cannot drive the game)", metavar="NAME")
PORT = Setting("port", 8765, "port to listen on; 0 picks a free one", int,
               check=Check(lambda v: 0 <= v <= 65535, "in 0..65535"))
SCALE = Setting("scale", None, "screen pixels per frame pixel on the page", int,
                check=Check(lambda v: 1 <= v <= 64, "in 1..64"))

# bench
QUICK = Setting("quick", False, "tiny sizes and one repeat: checks that everything runs, measures nothing", bool)


def sub_parsers(parser: argparse.ArgumentParser) -> dict:
    """``{command: parser}`` of ``parser``'s sub-commands (empty when it has none)."""
    return {name: sub for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for name, sub in action.choices.items()}


def flag_actions(parser: argparse.ArgumentParser) -> list:
    """The actions of ``parser`` that take a value or a switch (not --help, not the sub-commands)."""
    return [action for action in parser._actions
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))]


def flags_not_from_settings(parser: argparse.ArgumentParser, prefix="") -> list:
    """The flags of ``parser`` and its sub-commands that no :meth:`Setting.add_to` built, as
    ``'COMMAND --flag'`` lines (empty when every flag comes from a setting)."""
    missing = [f"{prefix}{'/'.join(action.option_strings) or action.dest}" for action in flag_actions(parser)
               if not isinstance(getattr(action, "setting", None), Setting)]
    for name, sub in sub_parsers(parser).items():
        missing += flags_not_from_settings(sub, f"{prefix}{name} ")
    return missing


def check_values(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """Raise :class:`SettingError` for a value of ``args`` outside its setting's :class:`Check`
    (the ranges argparse does not check; flags and recipe values alike)."""
    for action in flag_actions(parser):
        setting = getattr(action, "setting", None)
        if setting is not None and hasattr(args, action.dest):
            setting.validate(getattr(args, action.dest))
