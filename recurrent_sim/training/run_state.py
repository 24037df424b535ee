"""The resumable state of an offline training run, and finding the checkpoint to resume from.

Everything a resume needs beyond the model and the optimizer is in
:class:`RunState`; :meth:`RunState.state_dict` and
:meth:`RunState.load_state_dict` list it once, from the dataclass's fields.
"""
import dataclasses
import logging
import os
from typing import Optional

from recurrent_sim.training.checkpoint import (
    CHECKPOINT_FILENAME,
    NUMBERED_PREFIX,
    CheckpointError,
    NewerFormatError,
    list_checkpoints,
    load_checkpoint,
    newest_loadable_checkpoint,
)
from recurrent_sim.training.metadata import RUN_KIND, saved_error
from recurrent_sim.training.run_settings import OfflineSettings, RunOptions
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import remove_stale_temporaries
from recurrent_sim.utils.settings import SettingError

logger = logging.getLogger(__name__)

CHECKPOINT_FOLDER = "checkpoints"


@dataclasses.dataclass
class RunState:
    """Counters of a run, saved in every checkpoint's metadata as ``state``.

    Attributes:
        updates: updates applied so far.
        skipped: batches not applied (non-finite loss or gradient), in all.
        consecutive_skipped: the same, since the last applied update.
        best_validation_error: lowest validation error so far (None before any).
        elapsed_seconds: training time of the earlier sessions of the run, s.
        window: metric values of the updates since the last training row of the log.
        sequences_seen: training sequences drawn so far, by all ranks together.
    """

    updates: int = 0
    skipped: int = 0
    consecutive_skipped: int = 0
    best_validation_error: Optional[float] = None
    elapsed_seconds: float = 0.0
    window: list = dataclasses.field(default_factory=list)
    sequences_seen: int = 0

    def state_dict(self) -> dict:
        """JSON-able copy of every field."""
        return dataclasses.asdict(self)

    def load_state_dict(self, state: dict):
        """Set every field from :meth:`state_dict`'s output."""
        for field in dataclasses.fields(self):
            setattr(self, field.name, state[field.name])
        self.window = [list(values) for values in self.window]


def check_fresh_output(out):
    """Refuse to start a new run in a folder that holds one (it would be overwritten)."""
    saved = [os.path.join(out, CHECKPOINT_FILENAME)] if os.path.exists(os.path.join(out, CHECKPOINT_FILENAME)) else []
    saved += [path for _, path in list_checkpoints(os.path.join(out, CHECKPOINT_FOLDER))]
    if saved:
        raise UserError(
            f"--out {out} already holds a training run ({os.path.relpath(saved[-1], out)}): "
            "add --resume to continue it, or choose another --out"
        )


def find_resume_checkpoint(out):
    """The newest loadable checkpoint of the run in ``out``.

    Raises:
        UserError: no run, no loadable checkpoint, or not an offline run.
    """
    if not os.path.isdir(out):
        raise UserError(f"--resume: {out} does not exist; start without --resume")
    folder = os.path.join(out, CHECKPOINT_FOLDER)
    remove_stale_temporaries(folder, NUMBERED_PREFIX)
    found = len(list_checkpoints(folder))
    if not found:
        raise UserError(f"--resume: {out} holds no checkpoint to resume from; start without --resume")
    checkpoint = newest_loadable_checkpoint(folder)
    if checkpoint is None:
        raise UserError(
            f"--resume: none of the {found} checkpoint(s) in {folder} loads (set aside as *.damaged); "
            "start a new run in another --out"
        )
    if checkpoint.metadata.get("kind") != RUN_KIND:
        raise UserError(f"--resume: {checkpoint.path} is not a checkpoint of `recurrent-sim train`")
    logger.info("resuming from %s", checkpoint.path)
    return checkpoint


def settings_of(checkpoint) -> OfflineSettings:
    """The settings a checkpoint's run was started with (CheckpointError if they cannot be read)."""
    try:
        return OfflineSettings.from_dict(checkpoint.metadata["settings"])
    except (KeyError, TypeError, ValueError, SettingError) as e:
        raise _unreadable(checkpoint, "settings", e) from None


def options_of(checkpoint, **changes) -> RunOptions:
    """The run options saved in a checkpoint, with ``changes`` applied (CheckpointError if they cannot be read)."""
    try:
        saved = RunOptions(**checkpoint.metadata["options"])
    except (KeyError, TypeError, ValueError, SettingError) as e:
        raise _unreadable(checkpoint, "options", e) from None
    return dataclasses.replace(saved, **changes)


def _unreadable(checkpoint, field, error) -> CheckpointError:
    return CheckpointError(f"{checkpoint.path} is not a valid recurrent_sim checkpoint: its metadata {field} "
                           f"cannot be read ({type(error).__name__}: {error}); it is damaged or was not written "
                           "by recurrent_sim")


def saved_best_error(out):
    """Validation error recorded in ``out/simulator.npz`` (it may be newer than the newest checkpoint)."""
    path = os.path.join(out, CHECKPOINT_FILENAME)
    if not os.path.exists(path):
        return None
    try:
        return saved_error(load_checkpoint(path).metadata)
    except NewerFormatError:
        raise  # not damaged: never replaced by an older recurrent_sim
    except UserError as e:
        logger.warning("%s; it will be replaced by the next best simulator", e)
        return None


def start_config(init, settings: OfflineSettings):
    """The config of a run that starts from ``init`` (the :class:`~recurrent_sim.training.checkpoint.Checkpoint`
    of ``--loadtosim``): its own, with the heads and the architecture options ``settings`` ask for (options
    merged over its own). Returns ``(config, new_heads, new_options)``, the last two True where they differ."""
    options = {**init.config.options, **(settings.architecture_options or {})}
    config = dataclasses.replace(init.config, heads=settings.heads, head_input=settings.head_input, options=options)
    new_heads = (config.heads, config.head_input) != (init.config.heads, init.config.head_input)
    return config, new_heads, options != dict(init.config.options)
