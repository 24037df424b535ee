"""What a ``--savesim`` folder already holds, and when a new run may replace it.

A run that saves its best simulator into a folder must not silently destroy
a simulator another run left there. :func:`plan_savesim` looks at the folder
before training starts and decides:

* empty folder, or a damaged file: the run saves its best simulator there;
* the simulator the run continues (``--loadtosim`` of the same file): the
  run replaces it only when it does better;
* a simulator of another run whose error was measured the same way (same
  game, same frame size and architecture, same sequence split): the run
  replaces it only with a better one (lower error);
* anything else (another architecture, another measure): refused in one
  line, unless ``overwrite`` is given, then replaced.

The decision is logged, and :class:`SavesimPlan` tells the trainer the error
to beat and whether a final save may be forced.
"""
import dataclasses
import logging
import math
import os

from recurrent_sim.utils.errors import UserError
from recurrent_sim.training.checkpoint import (
    CHECKPOINT_FILENAME, CheckpointError, NewerFormatError, describe, load_checkpoint,
)
from recurrent_sim.training.losses import DEFAULT_LOSS
from recurrent_sim.training.metadata import saved_error

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class SavesimPlan:
    """How a run treats its ``--savesim`` file.

    Attributes:
        path: the checkpoint file (``FOLDER/simulator.npz`` or the ``.npz`` given).
        error_to_beat: the error of the simulator already there when the run
            may only replace it with a better one, else ``inf``.
        protected: True when a simulator is there that must only be replaced by a better one.
        message: what was decided, for the log and the final report.
    """

    path: str
    error_to_beat: float = math.inf
    protected: bool = False
    message: str = ""

    def outcome(self) -> str:
        """What a save under this plan did to the file that was there ('' when there was none)."""
        if self.protected:
            return f"it replaced the simulator of error {self.error_to_beat:.6g} that was there, as it is better"
        if self.message:
            return "it replaced the file that was there"
        return ""


def savesim_file(savesim) -> str:
    """The checkpoint file of a ``--savesim`` value (a folder or a ``.npz`` file name)."""
    savesim = os.fspath(savesim)
    return savesim if savesim.endswith(".npz") else os.path.join(savesim, CHECKPOINT_FILENAME)


def same_measure(metadata, env_id, sequence) -> bool:
    """True when ``metadata`` of a saved simulator records an error measured like this run's: by
    online training (its validation error on held-out episodes; files of earlier versions, chosen
    by their running training error, are compared as they are), on the same game, with the same
    sequence split (a dict) and the same loss. Files written before the common metadata schema are
    read too; an offline run's simulator (no ``steps``) is another measure."""
    error = saved_error(metadata)
    settings = metadata.get("settings") or {}
    source = metadata.get("error_source", "validation" if "validation_error" in metadata else "training")
    return (
        error is not None
        and math.isfinite(error)
        and (source == "training" or (source == "validation" and "steps" in metadata))
        and metadata.get("env_id") == env_id
        and settings.get("sequence", metadata.get("sequence")) == sequence
        and settings.get("loss", DEFAULT_LOSS) == DEFAULT_LOSS
    )


def plan_savesim(savesim, config, env_id, sequence, loadtosim=None, overwrite=False) -> SavesimPlan:
    """Decide how the run may write ``savesim`` (see the module docstring).

    Args:
        savesim: the ``--savesim`` folder or file.
        config: the :class:`SimulatorConfig` the run trains.
        env_id: the game.
        sequence: the run's sequence split as a dict (``dataclasses.asdict(SequenceSchedule)``).
        loadtosim: the checkpoint file the run started from, if any.
        overwrite: replace whatever is there.
    Raises:
        UserError: the folder holds a simulator of another run that cannot be compared, without ``overwrite``.
    """
    path = savesim_file(savesim)
    if not os.path.exists(path):
        return SavesimPlan(path)
    try:
        held = load_checkpoint(path)
    except NewerFormatError as e:  # not damaged: never replaced by an older recurrent_sim
        raise UserError(f"--savesim {savesim}: {e}, or choose another folder") from None
    except CheckpointError as e:
        plan = SavesimPlan(path, message=f"{e}; it will be replaced")
        logger.warning("%s", plan.message)
        return plan
    error = saved_error(held.metadata)
    continued = loadtosim is not None and os.path.abspath(loadtosim) == os.path.abspath(path)
    if continued:
        error = error if error is not None and math.isfinite(error) else math.inf
        return _log(SavesimPlan(path, error, True, f"{path} is the simulator this run continues (error {error:.6g}): "
                                                   "it is replaced only by a better one"))
    comparable = held.config == config and same_measure(held.metadata, env_id, sequence)
    if overwrite:
        return _log(SavesimPlan(path, message=f"--overwrite: {path} (a simulator of another run) is replaced by "
                                              "this run's best"))
    if comparable:
        return _log(SavesimPlan(path, float(error), True,
                                f"{path} holds a simulator of another run with error {error:.6g} on the same measure: "
                                "it is replaced only by a better one"))
    if held.config != config:
        why = f"with {describe(held.config)}; this run trains one with {describe(config)}"
    else:
        why = "whose error was measured on another game or sequence split"
    raise UserError(
        f"--savesim {savesim} already holds a simulator of another run {why}: choose another folder, "
        f"--loadtosim {savesim} to continue it, or --overwrite to replace it"
    )


def _log(plan: SavesimPlan) -> SavesimPlan:
    logger.info("%s", plan.message)
    return plan


def not_saved_message(plan: SavesimPlan, error) -> str:
    """Why a run's simulator was not saved at the end: it did not beat the one already there."""
    return (
        f"simulator not saved: its error {error:.6g} is not better than the {plan.error_to_beat:.6g} of the "
        f"simulator kept in {plan.path} (give --overwrite to replace it anyway)"
    )
