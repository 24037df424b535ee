"""The training core both command lines share: one update, one non-finite rule, one best rule, one writer.

Online training (the original script, :class:`~recurrent_sim.training.trainer.SimulatorTrainer`,
fed by the sample buffer) and offline training (``recurrent-sim train``,
:class:`~recurrent_sim.training.offline.OfflineTrainer`, fed by episode
files) differ in where batches come from and when they save; what they do
with a batch and with a simulator is :class:`TrainingCore`:

* :meth:`TrainingCore.train`: one update (:class:`UpdateStep` or its
  data-parallel twin) that never applies a non-finite loss or gradient;
* the non-finite rule: a skipped batch is counted, and after
  ``max_nonfinite`` skipped batches in a row (the ``max_nonfinite``
  setting, :data:`MAX_NONFINITE`; 1 stops at the first) training stops;
  an update that makes the parameters non-finite stops it at once;
* :meth:`TrainingCore.keep_if_best`: the best simulator is the one of the
  lowest validation error (mean error over held-out sequences, measured by
  :meth:`TrainingCore.validate` with the loss's final plan);
* :meth:`TrainingCore.write`: the one checkpoint writer, which refuses
  parameters that are not finite.
"""
import logging
import math
from typing import Optional

from recurrent_sim.training.checkpoint import save_checkpoint
from recurrent_sim.training.rank_sampling import all_ranks_mean, rank_share
from recurrent_sim.training.run_settings import MAX_NONFINITE
from recurrent_sim.training.run_state import RunState
from recurrent_sim.training.update_step import metric_sums
from recurrent_sim.utils.finite import NonFiniteError

logger = logging.getLogger(__name__)


class TrainingCore:
    """Trains ``simulator`` with ``step`` and keeps its best state by validation error.

    Args:
        simulator: the simulator (a ``chainer.Link``) being trained.
        optimizer: its optimizer (saved with checkpoints that ask for it).
        step: callable ``batch -> StepOutcome`` (an :class:`UpdateStep` or ``DataParallelStep``).
        metric_names: the loss's metric names; the first is the error that ranks simulators.
        validation_function: ``(model, batch) -> (loss, metrics)`` measuring validation batches.
        max_nonfinite: skipped batches in a row after which training stops (>= 1).
        state: the counters (:class:`RunState`: ``updates``, ``skipped``,
            ``consecutive_skipped``, ``best_validation_error``); a fresh one by default.
    """

    def __init__(self, simulator, optimizer, step, metric_names, validation_function,
                 max_nonfinite: int = MAX_NONFINITE.default, state: Optional[RunState] = None):
        if max_nonfinite < 1:
            raise ValueError(f"max_nonfinite must be >= 1, got {max_nonfinite}")
        self.simulator = simulator
        self.optimizer = optimizer
        self.step = step
        self.metric_names = tuple(metric_names)
        self.validation_function = validation_function
        self.max_nonfinite = int(max_nonfinite)
        self.state = state if state is not None else RunState()
        self.parameters_damaged = False
        self.metrics = {}  # of the last update applied

    # ----- one update ---------------------------------------------------------
    def train(self, batch) -> str:
        """One update on ``batch``; returns why training must stop ('' to go on).

        A batch whose loss or gradient is not finite is not applied: it is
        counted in ``state.skipped`` (the reason is '' until ``max_nonfinite``
        in a row). An update that made the parameters non-finite sets
        ``parameters_damaged`` (nothing is saved from then on).
        """
        outcome = self.step(batch)
        if not outcome.applied:
            return self._skip(outcome.problem)
        if outcome.parameters_damaged:
            self.parameters_damaged = True
            return f"update {self.state.updates + 1} made the parameters non-finite"
        self.state.updates += 1
        self.state.consecutive_skipped = 0
        self.metrics = outcome.metrics
        return ""

    def _skip(self, why) -> str:
        state = self.state
        state.skipped += 1
        state.consecutive_skipped += 1
        logger.warning("update %d: %s; batch skipped (%d skipped so far)", state.updates + 1, why, state.skipped)
        if self.max_nonfinite == 1:
            return f"{why} at update {state.updates + 1}"
        if state.consecutive_skipped >= self.max_nonfinite:
            return f"{state.consecutive_skipped} batches in a row had a non-finite loss or gradient"
        return ""

    # ----- the best simulator -------------------------------------------------
    def validate(self, batches, ranks=None) -> dict:
        """Mean of each metric over the validation ``batches``, as ``validation_<name>`` (NaN when
        there is none). With ``ranks`` (a data-parallel world) each rank measures its share and the
        sums are added over the ranks."""
        if ranks is not None:
            batches = rank_share(batches, ranks)
        totals, count = metric_sums(self.validation_function, self.simulator, batches)
        if ranks is None:
            means = {name: totals[name] / count if count else math.nan for name in self.metric_names}
        else:
            means = all_ranks_mean(totals, count, self.metric_names, ranks)
        return {"validation_" + name: float(means[name]) for name in self.metric_names}

    @property
    def best_error(self) -> float:
        """The lowest validation error kept so far (``inf`` before any)."""
        best = self.state.best_validation_error
        return math.inf if best is None else best

    def is_best(self, error) -> bool:
        """Whether a validation error ``error`` beats every one kept so far (NaN and inf never do)."""
        return error is not None and math.isfinite(error) and error < self.best_error

    def keep_if_best(self, error, save) -> bool:
        """Call ``save()`` and record ``error`` as the best when it is; returns whether it was."""
        if not self.is_best(error):
            return False
        save()
        self.state.best_validation_error = float(error)
        return True

    # ----- the checkpoint writer ----------------------------------------------
    def check_saveable(self):
        """Raise :class:`NonFiniteError` when a parameter is not finite (it must not be saved)."""
        if self.parameters_damaged or not self.step.parameters_finite():
            raise NonFiniteError("the simulator's parameters are not finite and were not saved (try a lower --lr)")

    def write(self, path, metadata: dict, with_optimizer: bool = True) -> str:
        """Save the simulator (and its optimizer's state) to ``path`` atomically; returns the file written."""
        self.check_saveable()
        return save_checkpoint(path, self.simulator, self.optimizer if with_optimizer else None, metadata=metadata)
