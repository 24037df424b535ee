"""Trained simulators that ship with the package, loadable by name.

``pretrained_path("blockworld")`` is the checkpoint of a small simulator of
``BlockWorld-v1`` with reward, episode-end and error heads; its folder also
holds ``evaluation.json`` (what ``recurrent-sim evaluate`` measured on it)
and ``TRAINED_WITH.md`` (the commands that made it). Commands take it as
``--pretrained blockworld`` in place of ``--loadtosim DIR``.
"""
import os

from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import Setting

FOLDER = os.path.dirname(os.path.abspath(__file__))
CHECKPOINT = "simulator.npz"

# where the simulator a command loads comes from: a folder or file, or a shipped one by name
LOADTOSIM = Setting("loadtosim", None, "simulator folder (its simulator.npz) or checkpoint file", metavar="DIR",
                    original_flag="--loadtosim")
PRETRAINED = Setting("pretrained", None, "a simulator shipped with the package, by name (blockworld), instead of "
                     "--loadtosim", metavar="NAME", original_flag="--pretrained-sim")


def pretrained_names():
    """Names of the shipped simulators (folders of this package holding a checkpoint), sorted."""
    return sorted(name for name in os.listdir(FOLDER) if os.path.isfile(os.path.join(FOLDER, name, CHECKPOINT)))


def pretrained_path(name: str) -> str:
    """The checkpoint file of the shipped simulator ``name``.

    Raises:
        UserError: no shipped simulator has that name (the message lists them).
    """
    path = os.path.join(FOLDER, str(name), CHECKPOINT)
    if os.sep in str(name) or name in ("", ".", "..") or not os.path.isfile(path):
        raise UserError(f"no pretrained simulator {name!r}; shipped: {', '.join(pretrained_names()) or 'none'}")
    return path
