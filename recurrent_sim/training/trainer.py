"""Online training of the simulator from the transitions an agent produces.

Every transition goes through :meth:`SimulatorTrainer.observe`: whole
episodes are held out for validation as the buffer fills (about a tenth of
the transitions, until a store of a tenth of the buffer's size is full; see
:mod:`recurrent_sim.data.held_out`), the others go into the
:class:`SampleBuffer`. After ``warm_up_steps`` transitions, one update on a
sampled batch is made every ``training_steps`` transitions; every
``saving_steps`` transitions the simulator is validated on the held-out
sequences and saved to ``savesim`` if its validation error is the best so
far. The update, the non-finite rule, the best rule and the checkpoint
writer are the :class:`~recurrent_sim.training.core.TrainingCore` of
offline training too.
"""
import dataclasses
import logging
import math
import os
import time
from typing import Optional

import numpy as np

from recurrent_sim.data.held_out import HeldOutEpisodes
from recurrent_sim.training.core import TrainingCore
from recurrent_sim.training.losses import DEFAULT_LOSS, PlannedLoss, get_loss
from recurrent_sim.training.mean_image import MEAN_IMAGE_FRAMES, ensure_mean_image
from recurrent_sim.training.metadata import simulator_metadata
from recurrent_sim.training.schemes import FINAL_UPDATE
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.training.run_settings import BATCH_SIZE, MAX_NONFINITE, VALIDATION_FRACTION, VALIDATION_SEQUENCES
from recurrent_sim.training.savesim import savesim_file
from recurrent_sim.training.update_step import UpdateStep
from recurrent_sim.utils.files import remove_stale_temporaries
from recurrent_sim.utils.finite import NonFiniteError
from recurrent_sim.utils.run_log import RunLog
from recurrent_sim.utils.settings import Setting, SettingError, any_int, check_positive

logger = logging.getLogger(__name__)

WARM_UP_STEPS = Setting("warm_up_steps", 6000, "steps before the simulator starts training", any_int,
                        original_flag="--warm_up_steps")
TRAINING_STEPS = Setting("training_steps", 40, "steps between simulator updates", any_int,
                         original_flag="--training_steps")
SAVING_STEPS = Setting("saving_steps", 30000,
                       "steps between saves of the simulator (only when its error is the best so far)", any_int,
                       original_flag="--saving_steps")
BUFFER_SIZE = Setting("buffer_size", 10 ** 4, "transitions kept to train the simulator", any_int,
                      original_flag="--buffer_size_sim")


@dataclasses.dataclass(frozen=True)
class TrainingSchedule:
    """When the online trainer updates and saves, in environment steps.

    Attributes:
        batch_size: sequences per update.
        warm_up_steps: steps played before the first update.
        training_steps: steps between updates.
        saving_steps: steps between saves of the best simulator so far.
    """

    batch_size: int = BATCH_SIZE.field()
    warm_up_steps: int = WARM_UP_STEPS.field()
    training_steps: int = TRAINING_STEPS.field()
    saving_steps: int = SAVING_STEPS.field()

    def __post_init__(self):
        for name in ("batch_size", "training_steps", "saving_steps"):
            check_positive(name, getattr(self, name))
        if self.warm_up_steps < 0:
            raise SettingError("warm_up_steps", f"{{flag}} must be >= 0, got {self.warm_up_steps}")


class SimulatorTrainer:
    """Trains a simulator online on its own sample buffer.

    Args:
        simulator: the :class:`Simulator` to train.
        optimizer: an optimiser already set up on ``simulator``.
        buffer: the :class:`SampleBuffer` (or ``MultiGameBuffer``) transitions are stored in.
        sequence: split of training sequences: a SequenceSchedule, or a Scheme
            (recurrent_sim.training.schemes) whose plan follows the updates.
        schedule: when to update and save.
        savesim: folder for the best-so-far checkpoint (created if missing);
            None disables saving.
        metadata: ``env_id``, ``settings`` (merged with the sequence, schedule,
            loss and validation settings) and extra JSON-able values saved in
            checkpoints (see :mod:`recurrent_sim.training.metadata`).
        log_interval: log the running error every this many updates.
        loss: registered name of the loss (see :mod:`recurrent_sim.training.losses`).
        run_log: a run folder to log in: every ``log_interval`` updates a row
            (env ``step``, ``update``, ``train_<metric>`` means) goes to its
            ``log.csv``, TensorBoard events and ``training_curve.png``
            (:class:`recurrent_sim.utils.run_log.RunLog`); None logs nothing there.
        max_nonfinite: skipped (non-finite) batches in a row after which training stops.
        validation_fraction: share of the transitions held out as whole episodes.
        validation_sequences: held-out sequences the validation error averages.
    """

    def __init__(self, simulator, optimizer, buffer, sequence: SequenceSchedule = SequenceSchedule(),
                 schedule: TrainingSchedule = TrainingSchedule(), savesim: Optional[str] = None,
                 metadata: Optional[dict] = None, log_interval: int = 50, loss: str = DEFAULT_LOSS, run_log=None,
                 max_nonfinite: int = MAX_NONFINITE.default, validation_fraction: float = VALIDATION_FRACTION.default,
                 validation_sequences: int = VALIDATION_SEQUENCES.default):
        self.simulator = simulator
        self.optimizer = optimizer
        self.buffer = buffer
        self.sequence = sequence
        self.schedule = schedule
        self.savesim = savesim
        if savesim:  # what a run killed while saving here left (see utils/files.py)
            file = savesim_file(savesim)
            remove_stale_temporaries(os.path.dirname(os.path.abspath(file)), os.path.basename(file))
        self.metadata = dict(metadata or {})
        self.log_interval = log_interval
        self.loss = get_loss(loss)
        self.step = UpdateStep(simulator, optimizer, PlannedLoss(self.loss, sequence, lambda: self.updates))
        self.core = TrainingCore(simulator, optimizer, self.step, self.loss.metric_names,
                                 self.loss.function(sequence.plan(FINAL_UPDATE)), max_nonfinite)
        self.validation_sequences = validation_sequences
        self.held_out = None if buffer is None else HeldOutEpisodes(
            buffer.capacity, buffer.frame_shape, len(getattr(buffer, "games", (buffer,))), validation_fraction)
        self.run_log = None
        if run_log is not None:
            fields = ("step", "update") + tuple("train_" + name for name in self.loss.metric_names)
            self.run_log = RunLog(run_log, fields, step_field="step", curve_fields=fields[2:3]).open()
        self._recent_metrics = []
        self.steps = 0
        self.last_saved_path = None
        self.last_error = None  # the validation error of the last save point
        self._errors_since_save = []
        self._recent_errors = []
        self._started = time.time()

    @property
    def sequence_length(self) -> int:
        return self.sequence.sequence_length

    updates = property(lambda self: self.core.state.updates, doc="Updates applied so far.")
    skipped_updates = property(lambda self: self.core.state.skipped, doc="Batches skipped (non-finite), in all.")
    consecutive_skips = property(lambda self: self.core.state.consecutive_skipped,
                                 doc="Batches skipped since the last update applied.")
    parameters_damaged = property(lambda self: self.core.parameters_damaged,
                                  doc="An update made the parameters non-finite: nothing is saved any more.")

    @property
    def best_error(self) -> float:
        """The lowest validation error saved so far, or the error a save must beat (``inf``: none)."""
        return self.core.best_error

    @best_error.setter
    def best_error(self, error):
        self.core.state.best_validation_error = None if error is None or math.isinf(error) else float(error)

    def observe(self, frame, action, reward, episode_end, game=None):
        """Record one transition and train / save when the schedule says so.

        Args:
            frame: (H, W) uint8 frame on which ``action`` was taken.
            action: int action index.
            reward: float reward of the transition.
            episode_end: True when the transition ended the episode.
            game: index of the game that made it, with a buffer fed by several
                games (:class:`~recurrent_sim.data.game_buffers.MultiGameBuffer`).
        Returns:
            The update's loss (float) when an update happened, else None.
        """
        if self.held_out.take(frame, action, reward, episode_end, game or 0):
            pass  # a held-out episode: for validation only
        elif game is None:
            self.buffer.append(frame, action, reward, episode_end)
        else:
            self.buffer.append(frame, action, reward, episode_end, game=game)
        self.steps += 1
        loss = None
        if (self.steps >= self.schedule.warm_up_steps and self.steps % self.schedule.training_steps == 0
                and self.buffer.can_sample(self.sequence_length)):
            loss = self.update()
        if self.savesim and self.steps % self.schedule.saving_steps == 0:
            self.save_if_best()
        return loss

    def ensure_mean_image(self):
        """Compute the mean image from the oldest stored frames, once."""
        ensure_mean_image(self.simulator, self.buffer.first_frames(MEAN_IMAGE_FRAMES))

    def update(self, batch=None):
        """One update step on a batch sampled from the buffer (or given).

        Returns the loss's error (its first metric; for the default loss the
        mean squared error per pixel, pixels in [0, 1]), or None when the
        loss or the gradient was not finite (the batch is skipped and
        counted in ``skipped_updates``). Raises :class:`NonFiniteError`
        when the update made the weights non-finite, or after
        ``max_nonfinite`` skipped batches in a row.
        """
        self.ensure_mean_image()
        if batch is None:
            batch = self.buffer.sample(self.schedule.batch_size, self.sequence_length)
        updates = self.updates
        stop_reason = self.core.train(batch)
        if self.parameters_damaged:
            raise NonFiniteError(f"simulator update {self.updates + 1} made its weights NaN or infinite, so they are "
                                 "not saved (the learning rate is likely too high)")
        if stop_reason:
            raise NonFiniteError(f"{self.consecutive_skips} simulator batches in a row had a non-finite loss or "
                                 "gradient, so the simulator stopped training and was not saved again (the learning "
                                 "rate is likely too high)")
        if self.updates == updates:
            return None
        metrics = self.core.metrics
        value = metrics[self.loss.metric_names[0]]
        self._errors_since_save.append(value)
        self._recent_errors.append(value)
        self._recent_metrics.append([metrics[name] for name in self.loss.metric_names])
        if self.log_interval and self.updates % self.log_interval == 0:
            self._log_row()
            others = ", ".join(f"{name} {metrics[name]:.6f}" for name in self.loss.metric_names[1:])
            logger.info("simulator update %d (env step %d): %s %.6f (%s), %.1f steps/s", self.updates, self.steps,
                        self.loss.metric_names[0], np.mean(self._recent_errors), others,
                        self.steps / max(time.time() - self._started, 1e-9))
            self._recent_errors = []
        return value

    def _log_row(self):
        """A row of the run log: the metrics' means over the updates since the last row."""
        if self.run_log is not None and self._recent_metrics:
            means = np.mean(self._recent_metrics, axis=0)
            row = {"step": self.steps, "update": self.updates}
            row.update({"train_" + name: float(mean) for name, mean in zip(self.loss.metric_names, means)})
            self.run_log.append(row)
        self._recent_metrics = []

    def close(self):
        """Log the last updates and finish the run log (curve, TensorBoard)."""
        self._log_row()
        if self.run_log is not None:
            self.run_log.write()
            self.run_log.close()

    def progress_fields(self) -> dict:
        """Numbers for the play loop's progress lines: updates and the running error."""
        error = self.running_error
        return {"sim_updates": self.updates} if error is None else {"sim_updates": self.updates, "sim_error": error}

    @property
    def running_error(self) -> Optional[float]:
        """Mean training error since the last save point (None before any update)."""
        if not self._errors_since_save:
            return None
        return float(np.mean(self._errors_since_save))

    def validation_error(self) -> Optional[float]:
        """The simulator's error (the loss's first metric, final plan) averaged over the held-out
        sequences; None while no held-out episode holds a whole sequence."""
        batches = [] if self.held_out is None else self.held_out.batches(
            self.validation_sequences, self.sequence_length, self.schedule.batch_size)
        if not batches:
            return None
        error = self.core.validate(batches)["validation_" + self.loss.metric_names[0]]
        logger.info("simulator validation error %.6f on %d held-out sequences (best so far %.6f)", error,
                    sum(len(batch.frames) for batch in batches), self.best_error)
        return error

    def save_if_best(self, force=False):
        """At a save point with updates since the last one: save to ``savesim`` when the validation
        error is the best so far (or always with ``force``: then also with no held-out sequence yet,
        the error recorded as None). Returns the file written, or None."""
        if not self._errors_since_save or not self.savesim:
            return None
        if self.parameters_damaged:
            logger.error("simulator not saved: its parameters are not finite")
            return None
        error = self.last_error = self.validation_error()
        if error is None and not force:  # judged at the next save point, or saved by the end of the run
            logger.info("no held-out sequence to validate on yet: simulator not saved")
            return None
        self._errors_since_save = []
        if force:
            self._write(error)
            if self.core.is_best(error):
                self.best_error = error
        elif not self.core.keep_if_best(error, lambda: self._write(error)):
            logger.info("simulator validation error %.6f not better than %.6f: not saved", error, self.best_error)
            return None
        return self.last_saved_path

    def _write(self, error):
        extra = dict(self.metadata)
        settings = dict(extra.pop("settings", {}), sequence=dataclasses.asdict(self.sequence),
                        schedule=dataclasses.asdict(self.schedule), loss=self.loss.name,
                        validation_fraction=self.held_out.fraction, validation_sequences=self.validation_sequences)
        metadata = simulator_metadata(extra.pop("env_id", None), self.updates, error, "validation", settings,
                                      steps=self.steps, **extra)
        self.last_saved_path = self.core.write(self.savesim, metadata)
        logger.info("simulator saved to %s (validation error %s)", self.last_saved_path,
                    "n/a" if error is None else f"{error:.6f}")
