"""Offline training of the simulator on recorded episodes, resumable exactly.

The output folder of a run holds::

    OUT/simulator.npz               the best simulator so far by validation error (metadata:
                                    :mod:`recurrent_sim.training.metadata`)
                                    (model and mean image; what --loadtosim OUT loads)
    OUT/checkpoints/checkpoint_NNNNNNNN.npz
                                    full training state after NNNNNNNN updates, every
                                    ``checkpoint_every`` updates; the newest ``keep_checkpoints``
                                    are kept
    OUT/log.csv, OUT/log.json       training and validation error (one row per event), also as
                                    TensorBoard events; OUT/training_curve.png draws them

A checkpoint holds the model (weights and mean image), the optimizer state,
and as JSON metadata the run's settings, counters, the sampler's position
and random state, the dataset's fingerprint and the log so far. Every file
is written atomically, so a run killed at any moment (even with SIGKILL)
leaves its previous checkpoints intact; :meth:`OfflineTrainer.resume`
continues from the newest checkpoint that loads, and draws the same batches
and gets the same errors (on CPU, bit for bit) as the uninterrupted run.

Each update, the non-finite rule, the choice of the best simulator and
the checkpoint writer are the :class:`~recurrent_sim.training.core.TrainingCore`
the online trainer uses too: a batch whose loss or gradient is not finite is
never applied; it is skipped and counted (``on_nonfinite="skip"``, stopping
after ``max_nonfinite`` in a row) or it stops the run (``"stop"``, the same
rule with ``max_nonfinite`` 1). Parameters that are not finite are never saved.
"""
import dataclasses
import logging
import os

import numpy as np

from recurrent_sim.data.dataset_sampler import split_episodes, validation_batches
from recurrent_sim.models import build_simulator
from recurrent_sim.models.config import describe_frames
from recurrent_sim.models.registry import frame_settings, simulator_config
from recurrent_sim.training.checkpoint import CHECKPOINT_FILENAME, NUMBERED_PREFIX, CheckpointError
from recurrent_sim.training.core import TrainingCore
from recurrent_sim.training.data_parallel import DataParallelStep, SingleProcess
from recurrent_sim.training.optimizers import make_optimizer
from recurrent_sim.training.rank_sampling import RankSampler
from recurrent_sim.training.run_checkpoints import RunCheckpoints
from recurrent_sim.training.run_fields import log_fields
from recurrent_sim.training.run_settings import OfflineSettings, RunOptions, RunResult
from recurrent_sim.training.schemes import FINAL_UPDATE
from recurrent_sim.training.run_state import CHECKPOINT_FOLDER, RunState, saved_best_error, settings_of, start_config
from recurrent_sim.training.heads_loss import HEAD_METRICS
from recurrent_sim.training.losses import PlannedLoss, get_loss
from recurrent_sim.training.mean_image import ensure_mean_image
from recurrent_sim.training.update_step import UpdateStep
from recurrent_sim.utils.budget import TimeBudget
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import remove_stale_temporaries
from recurrent_sim.utils.progress import Progress
from recurrent_sim.utils.run_log import CURVE_FILE, MemoryLog, RunLog
from recurrent_sim.utils.signals import StopRequest

logger = logging.getLogger(__name__)

class OfflineTrainer(RunCheckpoints):
    """Trains a simulator on an :class:`EpisodeDataset`, saving into ``out``.

    Args:
        out: output folder (created if missing).
        dataset: the :class:`recurrent_sim.data.episodes.EpisodeDataset`.
        settings: :class:`OfflineSettings`.
        options: :class:`RunOptions`.
        init: optional checkpoint whose weights and mean image start the run
            (its architecture must match ``settings`` and the dataset).
        config: the simulator's :class:`SimulatorConfig` (default: ``init``'s,
            else the paper's layers with the sizes of ``settings``).
        ranks: the world of a data-parallel run (``mpiexec``, see
            :mod:`recurrent_sim.training.data_parallel`); default one process.
            Every rank trains on its own batches (``options.rank_batches``),
            the gradients are averaged; rank 0 alone writes files.

    Nothing is written before :meth:`run`. Use :meth:`resume` to continue a
    run from its newest checkpoint.
    """

    def __init__(self, out, dataset, settings: OfflineSettings, options: RunOptions, init=None, config=None,
                 ranks=None):
        self.ranks = ranks or SingleProcess()
        self.out = os.fspath(out)
        self.checkpoint_folder = os.path.join(self.out, CHECKPOINT_FOLDER)
        self.dataset, self.settings, self.options = dataset, settings, options
        new_heads = new_options = False
        try:
            if init is not None and config is None:  # the loaded simulator, with new (untrained) heads or options
                config, new_heads, new_options = start_config(init, settings)
                if new_heads:
                    logger.info("new heads reading the %s on the simulator of %s", settings.head_input, init.path)
            self.config = config or simulator_config(
                settings.architecture,
                **frame_settings(settings.architecture, dataset.frame_shape),
                n_actions=dataset.n_actions,
                hidden_size=settings.hidden_size,
                encoding_size=settings.encoding_size,
                options=settings.architecture_options or {},
                heads=settings.heads,
                head_input=settings.head_input,
            )
        except ValueError as e:
            raise UserError(f"cannot build a simulator for this dataset: {e}") from None
        if tuple(self.config.image_shape) != tuple(dataset.frame_shape):
            raise UserError(f"the simulator predicts {describe_frames(self.config.image_shape)} frames but the dataset "
                            f"holds {describe_frames(dataset.frame_shape)} frames: train a new simulator on it")
        sequence_length = settings.sequence_length
        lengths = [len(episode.frames) for episode in dataset.episodes]
        self.train_indices, self.validation_indices = split_episodes(
            lengths, sequence_length, settings.validation_fraction, settings.seed
        )
        self.sampler = RankSampler(dataset.episodes, self.train_indices, sequence_length, settings.seed,
                                   self.ranks, options.rank_batches)
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
        try:
            self.simulator = build_simulator(self.config)
        except ValueError as e:
            raise UserError(f"cannot build a simulator for this dataset: {e}") from None
        if init is not None:
            try:
                init.restore_simulator(self.simulator, new_heads=new_heads, new_options=new_options)
            except CheckpointError:
                if not new_options:
                    raise
                raise UserError(f"--architecture-options {settings.architecture_options} need other weights than "
                                f"the simulator of {init.path} has; with --loadtosim give only options that change "
                                "no weight (such as the motion architecture's plane_loss)") from None
        use_device(options.gpu, self.simulator)
        # With heads_only the optimiser sees the heads alone: the rest keeps its weights
        # (its gradients are still computed, and ignored).
        learner = self.simulator.state_heads if settings.head_weights.heads_only else self.simulator
        self.optimizer = make_optimizer(learner, settings.optimizer, settings.lr, settings.grad_clip)
        ensure_mean_image(self.simulator, (dataset.episodes[i].frames for i in self.train_indices))
        self.loss = get_loss(settings.loss)
        self.metric_names = self.loss.metric_names + (HEAD_METRICS if self.config.heads else ())
        # Training follows the split's plan of each update (curricula move
        # on); validation always uses its final plan, so its errors compare
        # across the whole run.
        head_weights = settings.head_weights if self.config.heads else None
        self.planned = PlannedLoss(self.loss, settings.split, lambda: self.state.updates, head_weights)
        self.validation_function = self.loss.function(settings.split.plan(FINAL_UPDATE), head_weights)
        self.step = (UpdateStep(self.simulator, self.optimizer, self.planned) if self.ranks.size == 1
                     else DataParallelStep(self.simulator, self.optimizer, self.planned, self.ranks))
        self.state = RunState()
        max_nonfinite = 1 if options.on_nonfinite == "stop" else options.max_nonfinite
        self.core = TrainingCore(self.simulator, self.optimizer, self.step, self.metric_names,
                                 self.validation_function, max_nonfinite, self.state)
        self.log = (RunLog if self.ranks.is_root else MemoryLog)(self.out, log_fields(self.metric_names), step_field="update",
                         curve_fields=["train_" + name for name in self.metric_names[:1]]
                         + ["validation_" + name for name in self.metric_names[:1]])
        self.last_checkpoint = None
        self.last_loss = float("nan")
        self.budget = TimeBudget(options.max_minutes, options.max_cpu_minutes)
        if self.ranks.is_root:  # what a run of this folder killed mid-write left (see utils/files.py)
            remove_stale_temporaries(self.out, (CHECKPOINT_FILENAME, "log.", CURVE_FILE))
            remove_stale_temporaries(self.checkpoint_folder, NUMBERED_PREFIX)

    # ----- resume -------------------------------------------------------------
    @classmethod
    def resume(cls, out, dataset, checkpoint, options: RunOptions, ranks=None) -> "OfflineTrainer":
        """Rebuild the run saved in ``checkpoint`` (see :func:`find_resume_checkpoint`), with
        ``ranks`` (any number: see :mod:`recurrent_sim.training.rank_sampling`).

        Raises:
            UserError: the dataset is not the one the run started with.
        """
        metadata = checkpoint.metadata
        if metadata["dataset"]["fingerprint"] != dataset.fingerprint():
            raise UserError(
                f"--resume: the dataset differs from the one this run started with "
                f"({', '.join(metadata['dataset']['folders'])}): resume on the same episodes, or start a new run"
            )
        trainer = cls(out, dataset, settings_of(checkpoint), options, config=checkpoint.config, ranks=ranks)
        checkpoint.restore_simulator(trainer.simulator)
        checkpoint.restore_optimizer(trainer.optimizer)
        state = dict(metadata["state"])
        state.setdefault("sequences_seen", (state["updates"] + state["skipped"]) * trainer.settings.batch_size)
        trainer.state.load_state_dict({key: value for key, value in state.items() if key != "sampler"})
        trainer.sampler.load_state_dict(state["sampler"], trainer.state.updates)
        trainer.log.rows = list(metadata["history"])
        trainer.last_checkpoint = checkpoint.path
        best, kept = saved_best_error(trainer.out), trainer.state.best_validation_error
        if best is not None and (kept is None or best < kept):
            trainer.state.best_validation_error = best
        trainer.log.write(rewrite_csv=True)
        logger.info("resumed at update %d of %d", trainer.state.updates, options.updates)
        return trainer

    # ----- one update -----------------------------------------------------------
    def train_step(self) -> str:
        """Sample a batch and apply one update; returns a reason to stop, or ''."""
        updates = self.state.updates
        stop_reason = self.core.train(self.sampler.sample(self.settings.batch_size))
        self.state.sequences_seen += self.settings.batch_size * self.ranks.size
        if self.core.parameters_damaged:
            return (f"{stop_reason}, they are not saved; the last checkpoint holds the last good state "
                    "(try a lower --lr)")
        if self.state.updates > updates:
            self.last_loss = self.core.metrics[self.metric_names[0]]
            self.state.window.append([self.core.metrics[name] for name in self.metric_names])
        return stop_reason

    def validate(self) -> dict:
        """Mean of each metric over the validation sequences, as ``validation_<name>`` (each
        rank evaluates its share of the sequences; the sums are added over the ranks)."""
        return self.core.validate(self.validation, self.ranks)

    # ----- the loop -------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return self.state.elapsed_seconds + self.budget.wall_seconds

    def _log_row(self, target, frames_per_second):
        """The log row of the update just made (None when nothing is due)."""
        row, updates = {}, self.state.updates
        if updates % self.options.log_every == 0:
            means = np.mean(self.state.window, axis=0)
            row.update({"train_" + name: value for name, value in zip(self.metric_names, means)})
            self.state.window = []
        if self.validation and (updates % self.options.validate_every == 0 or updates == target):
            self._validate_and_keep_best(row)
        if not row:
            return None
        row = {key: float(value) for key, value in row.items()}
        row.update(
            update=updates,
            sequences_seen=self.state.sequences_seen,
            skipped_batches=self.state.skipped,
            frames_per_second=frames_per_second,
            elapsed_seconds=self.elapsed,
        )
        return row

    def _stop_agreed(self, stop, start) -> bool:
        """Whether to stop now, the same on every rank: a signal any rank received, or
        rank 0's time budget spent (a budget allows at least one update)."""
        spent = self.ranks.is_root and self.state.updates > start and self.budget.spent()
        signum, spent = self.ranks.max([stop.signum or 0, spent])
        if signum and not stop.requested:
            stop.signum = int(signum)  # received by another rank
        return bool(signum or spent)

    def run(self) -> RunResult:
        """Train up to ``options.updates`` updates, or until a signal or a non-finite stop.

        A final checkpoint is saved whenever updates were made since the last
        one (on completion, SIGINT, SIGTERM and non-finite stops alike),
        unless the parameters themselves became non-finite.
        """
        self.budget.start()
        self.ranks.broadcast_parameters(self.simulator)  # new, --loadtosim or resumed: rank 0's weights
        if self.ranks.is_root:
            os.makedirs(self.checkpoint_folder, exist_ok=True)
        if self.last_checkpoint is None:  # a new run: fresh logs
            self.log.write(rewrite_csv=True)
        state = self.state
        start, target = state.updates, self.options.updates
        frames_per_update = self.settings.batch_size * self.settings.sequence_length * self.ranks.size
        saved_at = state.updates if self.last_checkpoint else None
        stop_reason = ""
        with StopRequest() as stop, Progress(
                max(target - start, 0), "training", unit="updates", quiet=not self.ranks.is_root) as bar:
            while state.updates < target and not stop_reason and not self._stop_agreed(stop, start):
                before = state.updates
                stop_reason = self.train_step()
                if state.updates == before:
                    continue
                seconds = max(self.budget.wall_seconds, 1e-9)
                frames_per_second = (state.updates - start) * frames_per_update / seconds
                row = self._log_row(target, frames_per_second)
                if row:
                    self.log.append(row)
                if state.updates % self.options.checkpoint_every == 0:
                    self.save_checkpoint()
                    saved_at = state.updates
                bar.update(1, update=state.updates, **{self.metric_names[0]: self.last_loss},
                           frames_per_s=round(frames_per_second, 1))
            if state.updates > 0 and saved_at != state.updates and not self.core.parameters_damaged:
                self.save_checkpoint()
        self.log.close()
        reason, code, message = RunResult.ending(stop_reason, stop, state.updates, target)
        if self.last_checkpoint:
            message += f"; last checkpoint {self.last_checkpoint}"
        logger.info("%s", message)
        return RunResult(state.updates, reason, code, message, state.best_validation_error, self.last_checkpoint)
