"""Offline training of the simulator on recorded episodes, resumable exactly.

The output folder of a run holds::

    OUT/simulator.npz               the best simulator so far by validation error
                                    (model and mean image; what --loadtosim OUT loads)
    OUT/checkpoints/checkpoint_NNNNNNNN.npz
                                    full training state after NNNNNNNN updates, every
                                    ``checkpoint_every`` updates; the newest ``keep_checkpoints``
                                    are kept
    OUT/log.csv, OUT/log.json       training and validation error (one row per event)

A checkpoint holds the model (weights and mean image), the optimizer state,
and as JSON metadata the run's settings, counters, the sampler's position
and random state, the dataset's fingerprint and the log so far. Every file
is written atomically, so a run killed at any moment (even with SIGKILL)
leaves its previous checkpoints intact; :meth:`OfflineTrainer.resume`
continues from the newest checkpoint that loads, and draws the same batches
and gets the same errors (on CPU, bit for bit) as the uninterrupted run.

A batch whose loss or gradient is not finite is never applied: it is
skipped and counted (``on_nonfinite="skip"``, stopping after
``max_nonfinite`` in a row) or it stops the run (``"stop"``). Parameters
that are not finite are never saved.
"""
import dataclasses
import json
import logging
import math
import os
import time
from typing import Optional

import chainer
import numpy as np

from recurrent_sim.data.dataset_sampler import SequenceSampler, split_episodes, validation_batches
from recurrent_sim.errors import UserError
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training.checkpoint import (
    CHECKPOINT_FILENAME,
    NUMBERED_PREFIX,
    atomic_write,
    list_checkpoints,
    load_checkpoint,
    newest_loadable_checkpoint,
    numbered_checkpoint_path,
    prune_checkpoints,
    remove_stale_temporaries,
    save_checkpoint,
)
from recurrent_sim.training.optimizers import make_optimizer
from recurrent_sim.training.sequence_loss import SequenceSchedule, sequence_loss
from recurrent_sim.training.signals import StopRequest
from recurrent_sim.training.trainer import MEAN_IMAGE_FRAMES
from recurrent_sim.utils.failures import append_text
from recurrent_sim.utils.finite import NonFiniteError
from recurrent_sim.utils.progress import Progress

logger = logging.getLogger(__name__)

RUN_KIND = "offline_training"
CHECKPOINT_FOLDER = "checkpoints"
LOG_FIELDS = (
    "update",
    "sequences_seen",
    "train_error",
    "train_obs_mse",
    "train_pred_mse",
    "validation_error",
    "validation_obs_mse",
    "validation_pred_mse",
    "skipped_batches",
    "frames_per_second",
    "elapsed_seconds",
)


@dataclasses.dataclass(frozen=True)
class OfflineSettings:
    """What defines a run; fixed for its whole life (a resume keeps them).

    Attributes:
        sequence: warm-up / observed / predicted split of each sequence.
        batch_size: sequences per update.
        hidden_size, encoding_size: simulator sizes (see SimulatorConfig).
        optimizer, lr, grad_clip: see :func:`make_optimizer`.
        validation_fraction: share of episodes held out, in [0, 1).
        validation_sequences: sequences the validation error is averaged over.
        seed: seeds the split, the batch order and the initial weights.
    """

    sequence: SequenceSchedule = SequenceSchedule()
    batch_size: int = 16
    hidden_size: int = 1024
    encoding_size: int = 1024
    optimizer: str = "adam"
    lr: float = 1e-4
    grad_clip: float = 10.0
    validation_fraction: float = 0.1
    validation_sequences: int = 64
    seed: int = 0

    def __post_init__(self):
        for name in ("batch_size", "hidden_size", "encoding_size", "validation_sequences"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if not self.lr > 0:
            raise UserError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.validation_fraction < 1:
            raise UserError(f"validation-fraction must be in [0, 1), got {self.validation_fraction}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "OfflineSettings":
        d = dict(d)
        d["sequence"] = SequenceSchedule(**d["sequence"])
        return cls(**d)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How far to train and how often to save and log; may change on resume.

    Attributes:
        updates: total number of updates of the run (a resume continues up to it).
        checkpoint_every: updates between checkpoints.
        keep_checkpoints: newest numbered checkpoints kept.
        validate_every: updates between validations (best simulator saved on improvement).
        log_every: updates averaged in one training-error row of the log.
        on_nonfinite: "skip" the batch (and count it) or "stop" the run.
        max_nonfinite: skipped batches in a row after which the run stops anyway.
        gpu: CUDA device id, -1 for the CPU.
    """

    updates: int = 100000
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    validate_every: int = 1000
    log_every: int = 10
    on_nonfinite: str = "skip"
    max_nonfinite: int = 100
    gpu: int = -1

    def __post_init__(self):
        for name in ("updates", "checkpoint_every", "keep_checkpoints", "validate_every", "log_every", "max_nonfinite"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.on_nonfinite not in ("skip", "stop"):
            raise UserError(f"on-nonfinite must be 'skip' or 'stop', got {self.on_nonfinite!r}")


@dataclasses.dataclass
class RunResult:
    """How a call to :meth:`OfflineTrainer.run` ended.

    ``reason``: "done", "SIGINT", "SIGTERM" or "non-finite"; ``exit_code``:
    0, 128 + signal number, or 1.
    """

    updates: int
    reason: str
    exit_code: int
    message: str
    best_validation_error: Optional[float]
    last_checkpoint: Optional[str]


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
    """The settings a checkpoint's run was started with."""
    return OfflineSettings.from_dict(checkpoint.metadata["settings"])


def options_of(checkpoint, **changes) -> RunOptions:
    """The run options saved in a checkpoint, with ``changes`` applied."""
    return RunOptions(**dict(checkpoint.metadata["options"], **changes))


class OfflineTrainer:
    """Trains a simulator on an :class:`EpisodeDataset`, saving into ``out``.

    Args:
        out: output folder (created if missing).
        dataset: the :class:`recurrent_sim.data.episodes.EpisodeDataset`.
        settings: :class:`OfflineSettings`.
        options: :class:`RunOptions`.
        init: optional checkpoint whose weights and mean image start the run
            (its architecture must match ``settings`` and the dataset).

    Nothing is written before :meth:`run`. Use :meth:`resume` to continue a
    run from its newest checkpoint.
    """

    def __init__(self, out, dataset, settings: OfflineSettings, options: RunOptions, init=None):
        self.out = os.fspath(out)
        self.checkpoint_folder = os.path.join(self.out, CHECKPOINT_FOLDER)
        self.dataset = dataset
        self.settings = settings
        self.options = options
        try:
            self.config = SimulatorConfig(
                frame_shape=dataset.frame_shape,
                n_actions=dataset.n_actions,
                hidden_size=settings.hidden_size,
                encoding_size=settings.encoding_size,
            )
        except ValueError as e:
            raise UserError(f"cannot build a simulator for this dataset: {e}") from None
        sequence_length = settings.sequence.sequence_length
        lengths = [len(episode.frames) for episode in dataset.episodes]
        self.train_indices, self.validation_indices = split_episodes(
            lengths, sequence_length, settings.validation_fraction, settings.seed
        )
        self.sampler = SequenceSampler(dataset.episodes, self.train_indices, sequence_length, [settings.seed, 1])
        self.validation = validation_batches(
            dataset.episodes, self.validation_indices, sequence_length,
            settings.validation_sequences, settings.batch_size,
        )
        logger.info(
            "%d training episodes (%d sequences per pass), %d validation episodes (%d sequences)",
            len(self.train_indices), len(self.sampler), len(self.validation_indices),
            sum(len(batch.frames) for batch in self.validation),
        )
        np.random.seed(settings.seed)  # Chainer's initialisers draw from numpy's global generator
        self.simulator = Simulator(self.config)
        if init is not None:
            init.restore_simulator(self.simulator)
        if options.gpu >= 0:
            device = chainer.get_device(f"@cupy:{options.gpu}")
            device.use()
            self.simulator.to_device(device)
        self.optimizer = make_optimizer(self.simulator, settings.optimizer, settings.lr, settings.grad_clip)
        if not self.simulator.has_mean_image:
            frames = np.concatenate([dataset.episodes[i].frames for i in self.train_indices])[:MEAN_IMAGE_FRAMES]
            self.simulator.set_mean_image(frames)
        self.updates = 0
        self.skipped = 0
        self.consecutive_skipped = 0
        self.best_validation_error = None
        self.elapsed_before = 0.0
        self.history = []
        self.window = []  # [loss, obs_mse, pred_mse] of the updates since the last training row
        self.last_checkpoint = None
        self.parameters_damaged = False
        self.last_loss = float("nan")
        self._session_start = time.time()

    # ----- resume -------------------------------------------------------------
    @classmethod
    def resume(cls, out, dataset, checkpoint, options: RunOptions) -> "OfflineTrainer":
        """Rebuild the run saved in ``checkpoint`` (see :func:`find_resume_checkpoint`).

        Raises:
            UserError: the dataset is not the one the run started with.
        """
        metadata = checkpoint.metadata
        if metadata["dataset"]["fingerprint"] != dataset.fingerprint():
            raise UserError(
                f"--resume: the dataset differs from the one this run started with "
                f"({', '.join(metadata['dataset']['folders'])}): resume on the same episodes, or start a new run"
            )
        trainer = cls(out, dataset, settings_of(checkpoint), options)
        checkpoint.restore_simulator(trainer.simulator)
        checkpoint.restore_optimizer(trainer.optimizer)
        state = metadata["state"]
        trainer.updates = int(state["updates"])
        trainer.skipped = int(state["skipped"])
        trainer.consecutive_skipped = int(state["consecutive_skipped"])
        trainer.best_validation_error = state["best_validation_error"]
        trainer.elapsed_before = float(state["elapsed_seconds"])
        trainer.window = [list(values) for values in state["window"]]
        trainer.sampler.load_state_dict(state["sampler"])
        trainer.history = list(metadata["history"])
        trainer.last_checkpoint = checkpoint.path
        best = trainer._saved_best_error()
        if best is not None and (trainer.best_validation_error is None or best < trainer.best_validation_error):
            trainer.best_validation_error = best
        for name in (CHECKPOINT_FILENAME, "log."):
            remove_stale_temporaries(trainer.out, name)
        trainer._write_logs(rewrite_csv=True)
        logger.info("resumed at update %d of %d", trainer.updates, options.updates)
        return trainer

    def _saved_best_error(self):
        """Validation error recorded in ``OUT/simulator.npz`` (it may be newer than the checkpoint)."""
        path = os.path.join(self.out, CHECKPOINT_FILENAME)
        if not os.path.exists(path):
            return None
        try:
            return load_checkpoint(path).metadata.get("validation_error")
        except UserError as e:
            logger.warning("%s; it will be replaced by the next best simulator", e)
            return None

    # ----- one update -----------------------------------------------------------
    def _all_finite(self, arrays) -> bool:
        xp = self.simulator.xp
        return all(bool(xp.isfinite(array).all()) for array in arrays if array is not None)

    def _parameters_finite(self) -> bool:
        return self._all_finite(param.array for param in self.simulator.params())

    def _skip(self, why) -> str:
        """Count a batch that was not applied; returns a reason to stop, or ''."""
        self.skipped += 1
        self.consecutive_skipped += 1
        logger.warning("update %d: %s; batch skipped (%d skipped so far)", self.updates + 1, why, self.skipped)
        if self.options.on_nonfinite == "stop":
            return f"{why} at update {self.updates + 1}"
        if self.consecutive_skipped >= self.options.max_nonfinite:
            return f"{self.consecutive_skipped} batches in a row had a non-finite loss or gradient"
        return ""

    def train_step(self) -> str:
        """Sample a batch and apply one update; returns a reason to stop, or ''."""
        batch = self.sampler.sample(self.settings.batch_size)
        result = sequence_loss(self.simulator, batch.frames, batch.actions, self.settings.sequence)
        loss = float(result.loss.array)
        if not math.isfinite(loss):
            return self._skip(f"loss is {loss}")
        self.simulator.cleargrads()
        result.loss.backward()
        if not self._all_finite(param.grad for param in self.simulator.params()):
            return self._skip("gradient is not finite")
        self.optimizer.update()
        if not self._parameters_finite():
            self.parameters_damaged = True
            return (
                f"update {self.updates + 1} made the parameters non-finite, they are not saved; "
                "the last checkpoint holds the last good state (try a lower --lr)"
            )
        self.updates += 1
        self.last_loss = loss
        self.consecutive_skipped = 0
        self.window.append([loss, result.obs_mse, result.pred_mse])
        return ""

    def validate(self) -> dict:
        """Mean loss, obs and pred errors over the validation sequences (per pixel, pixels in [0, 1])."""
        totals, count = np.zeros(3), 0
        with chainer.no_backprop_mode(), chainer.using_config("train", False):
            for batch in self.validation:
                result = sequence_loss(self.simulator, batch.frames, batch.actions, self.settings.sequence)
                totals += len(batch.frames) * np.array([float(result.loss.array), result.obs_mse, result.pred_mse])
                count += len(batch.frames)
        error, obs, pred = totals / count
        return {"validation_error": error, "validation_obs_mse": obs, "validation_pred_mse": pred}

    # ----- saving ---------------------------------------------------------------
    def _metadata(self) -> dict:
        return {
            "kind": RUN_KIND,
            "env_id": self.dataset.env_id,
            "updates": self.updates,
            "settings": self.settings.to_dict(),
            "options": {key: value for key, value in dataclasses.asdict(self.options).items() if key != "gpu"},
            "dataset": {
                "folders": [os.path.abspath(folder) for folder in self.dataset.folders],
                "fingerprint": self.dataset.fingerprint(),
            },
            "state": {
                "updates": self.updates,
                "skipped": self.skipped,
                "consecutive_skipped": self.consecutive_skipped,
                "best_validation_error": self.best_validation_error,
                "elapsed_seconds": self.elapsed,
                "window": self.window,
                "sampler": self.sampler.state_dict(),
            },
            "history": self.history,
        }

    def _check_saveable(self):
        if not self._parameters_finite():
            raise NonFiniteError("the simulator's parameters are not finite and were not saved (try a lower --lr)")

    def save_checkpoint(self) -> str:
        """Save the full state as checkpoint number ``updates``, then prune old ones."""
        self._check_saveable()
        path = save_checkpoint(
            numbered_checkpoint_path(self.checkpoint_folder, self.updates),
            self.simulator, self.optimizer, metadata=self._metadata(),
        )
        self.last_checkpoint = path
        prune_checkpoints(self.checkpoint_folder, self.options.keep_checkpoints)
        self._write_logs()
        if not self.validation:  # no validation set: the simulator of the newest checkpoint is served
            self._save_simulator(None)
        logger.info("checkpoint %s", path)
        return path

    def _save_simulator(self, validation_error):
        self._check_saveable()
        metadata = {
            "kind": "simulator", "env_id": self.dataset.env_id, "updates": self.updates,
            "validation_error": validation_error, "settings": self.settings.to_dict(),
        }
        save_checkpoint(os.path.join(self.out, CHECKPOINT_FILENAME), self.simulator, metadata=metadata)

    def _validate_and_keep_best(self, row):
        row.update(self.validate())
        error = row["validation_error"]
        if math.isfinite(error) and (self.best_validation_error is None or error < self.best_validation_error):
            self.best_validation_error = error
            self._save_simulator(error)
            logger.info("update %d: validation error %.6f, best so far: saved", self.updates, error)
        else:
            logger.info("update %d: validation error %.6f (best %.6f)", self.updates, error, self.best_validation_error)

    # ----- logs -----------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.time() - self._session_start

    def _write_logs(self, rewrite_csv=False):
        """``log.json`` (atomic rewrite) and ``log.csv`` (appended; rewritten on resume)."""
        text = json.dumps({"fields": LOG_FIELDS, "rows": self.history}, indent=1) + "\n"
        atomic_write(os.path.join(self.out, "log.json"), lambda f: f.write(text.encode("utf-8")))
        if rewrite_csv:
            lines = [",".join(LOG_FIELDS)] + [self._csv_line(row) for row in self.history]
            text = "\n".join(lines) + "\n"
            atomic_write(os.path.join(self.out, "log.csv"), lambda f: f.write(text.encode("utf-8")))

    @staticmethod
    def _csv_line(row) -> str:
        return ",".join("" if row.get(field) is None else repr(row[field]) for field in LOG_FIELDS)

    def _append_row(self, row):
        self.history.append(row)
        append_text(os.path.join(self.out, "log.csv"), self._csv_line(row) + "\n")

    # ----- the loop -------------------------------------------------------------
    def _log_row(self, target, frames_per_second):
        """The log row of the update just made (None when nothing is due)."""
        row = {}
        if self.updates % self.options.log_every == 0:
            losses = np.mean(self.window, axis=0)
            row.update(train_error=losses[0], train_obs_mse=losses[1], train_pred_mse=losses[2])
            self.window = []
        if self.validation and (self.updates % self.options.validate_every == 0 or self.updates == target):
            self._validate_and_keep_best(row)
        if not row:
            return None
        row = {key: float(value) for key, value in row.items()}
        row.update(
            update=self.updates,
            sequences_seen=(self.updates + self.skipped) * self.settings.batch_size,
            skipped_batches=self.skipped,
            frames_per_second=frames_per_second,
            elapsed_seconds=self.elapsed,
        )
        return row

    def run(self) -> RunResult:
        """Train up to ``options.updates`` updates, or until a signal or a non-finite stop.

        A final checkpoint is saved whenever updates were made since the last
        one (on completion, SIGINT, SIGTERM and non-finite stops alike),
        unless the parameters themselves became non-finite.
        """
        self._session_start = time.time()
        os.makedirs(self.checkpoint_folder, exist_ok=True)
        if self.last_checkpoint is None:  # a new run: fresh logs
            self._write_logs(rewrite_csv=True)
        start, target = self.updates, self.options.updates
        frames_per_update = self.settings.batch_size * self.settings.sequence.sequence_length
        saved_at = self.updates if self.last_checkpoint else None
        stop_reason = ""
        with StopRequest() as stop, Progress(max(target - start, 0), "training", unit="updates") as bar:
            while self.updates < target and not stop.requested and not stop_reason:
                before = self.updates
                stop_reason = self.train_step()
                if self.updates == before:
                    continue
                frames_per_second = (self.updates - start) * frames_per_update / max(
                    time.time() - self._session_start, 1e-9
                )
                row = self._log_row(target, frames_per_second)
                if row:
                    self._append_row(row)
                if self.updates % self.options.checkpoint_every == 0:
                    self.save_checkpoint()
                    saved_at = self.updates
                bar.update(1, update=self.updates, error=self.last_loss, frames_per_s=round(frames_per_second, 1))
            if self.updates > 0 and saved_at != self.updates and not self.parameters_damaged:
                self.save_checkpoint()
        if stop_reason:
            reason, code = "non-finite", 1
            message = f"stopped at update {self.updates}: {stop_reason}"
        elif stop.requested:
            reason, code = stop.name, stop.exit_code
            message = f"{stop.name} received: stopped at update {self.updates}; continue with --resume"
        else:
            reason, code = "done", 0
            message = f"trained to update {self.updates}"
        if self.last_checkpoint:
            message += f"; last checkpoint {self.last_checkpoint}"
        logger.info("%s", message)
        return RunResult(self.updates, reason, code, message, self.best_validation_error, self.last_checkpoint)
