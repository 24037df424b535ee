"""Training losses by name.

A loss function is ``loss_function(simulator, batch) -> (loss, metrics)``:
``batch`` has ``frames`` (B, L, H, W) uint8 and ``actions`` (B, L - 1)
int32 (a :class:`recurrent_sim.data.SequenceBatch`); ``loss`` is a scalar
``chainer.Variable`` to minimise; ``metrics`` a dict of named floats. Logs
(CSV and JSON columns ``train_<name>`` / ``validation_<name>``, TensorBoard
tags, progress bars) show those names; the first is the error by which the
best simulator is chosen.

A loss is registered as a *maker*, ``make(plan) -> loss_function``, so
that it knows how each sequence splits into warm-up, observed and predicted
steps (a :class:`recurrent_sim.training.schemes.StepPlan`: ``warmup``,
``pattern``, ``chunk``, and the original names ``unroll_dep``, ``obs_dep``,
``pred_dep``). Trainers ask their split (a :class:`SequenceSchedule` or a
:class:`recurrent_sim.training.schemes.Scheme`) for the plan of each update
through :class:`PlannedLoss`, so curricula change the plan as training goes::

    from recurrent_sim.training import register_loss

    def make_l1(schedule):
        def loss_function(simulator, batch):
            ...
            return loss, {"error": float(loss.array), "l1": ...}
        return loss_function

    register_loss("sequence_l1", make_l1, metric_names=("error", "l1"))

``recurrent-sim train --loss sequence_l1`` then trains with it.
"""
import dataclasses
import inspect
from typing import Callable, Tuple

from recurrent_sim.training.heads_loss import HeadTargets, HeadWeights
from recurrent_sim.training.independent_loss import independent_loss, reference_independent_loss
from recurrent_sim.training.reference_loss import reference_sequence_loss
from recurrent_sim.training.sequence_loss import SequenceSchedule, sequence_loss
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import Setting

DEFAULT_LOSS = "sequence_mse"
REFERENCE_LOSS = "sequence_mse_reference"
INDEPENDENT_LOSS = "independent_mse"
INDEPENDENT_REFERENCE_LOSS = "independent_mse_reference"
LOSS = Setting("loss", DEFAULT_LOSS, "registered training loss (see recurrent_sim.training.losses)")
SEQUENCE_METRICS = ("error", "obs_mse", "pred_mse")


@dataclasses.dataclass(frozen=True)
class RegisteredLoss:
    """A registry entry: ``make(schedule)`` gives the loss function, which reports ``metric_names``."""

    name: str
    make: Callable
    metric_names: Tuple[str, ...]

    def function(self, schedule: SequenceSchedule, head_weights=None):
        """The loss function for sequences split by ``schedule``; ``head_weights``
        (:class:`~recurrent_sim.training.heads_loss.HeadWeights`) weigh the heads of simulators that have them."""
        if head_weights is None:
            return self.make(schedule)
        if "head_weights" not in inspect.signature(self.make).parameters:
            raise UserError(f"the loss {self.name} does not train the reward, episode-end and error heads; "
                            f"use {DEFAULT_LOSS} or {INDEPENDENT_LOSS} for a simulator with heads")
        return self.make(schedule, head_weights=head_weights)


_LOSSES = {}


def register_loss(name: str, make, metric_names=("error",)):
    """Register ``make(schedule) -> loss_function`` under ``name``; returns ``make``.

    ``metric_names`` lists the keys of the metrics dict the loss function
    returns, in log order; the first is the error that selects the best
    simulator. Registering a name again replaces it.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a loss name must be a non-empty string, got {name!r}")
    metric_names = tuple(metric_names)
    if not metric_names:
        raise ValueError(f"loss {name!r} must report at least one metric")
    _LOSSES[name] = RegisteredLoss(name, make, metric_names)
    return make


def loss_names():
    """Names of the registered losses, sorted."""
    return sorted(_LOSSES)


def get_loss(name: str) -> RegisteredLoss:
    """The loss registered as ``name``.

    Raises:
        ValueError: no loss of that name is registered.
    """
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; registered: {', '.join(loss_names())}") from None


class PlannedLoss:
    """A loss function that follows the plan of the current update.

    Called as ``planned(model, batch)``, it computes the registered loss
    with the plan of update ``current_update()`` (rebuilt when the plan
    changes, e.g. at a curriculum boundary).

    Args:
        entry: a :class:`RegisteredLoss`.
        split: anything with ``plan(update) -> StepPlan`` (a
            :class:`SequenceSchedule`, a :class:`~recurrent_sim.training.schemes.Scheme`).
        current_update: ``() -> int``, the number of updates made so far.
        head_weights: :class:`~recurrent_sim.training.heads_loss.HeadWeights` of a simulator with heads
            (None: the defaults).
    """

    def __init__(self, entry: RegisteredLoss, split, current_update, head_weights=None):
        self.entry = entry
        self.split = split
        self.current_update = current_update
        self.head_weights = head_weights
        self.plan = None
        self.function = None

    def __call__(self, model, batch):
        return self.at(self.current_update())(model, batch)

    def at(self, update: int):
        """The loss function for update number ``update`` (0-based); rebuilt when the plan changes."""
        plan = self.split.plan(update)
        if plan != self.plan:
            self.plan, self.function = plan, self.entry.function(plan, self.head_weights)
        return self.function


def sequence_metrics_loss(compute, trains_heads=True):
    """A loss maker from ``compute(simulator, frames, actions, schedule[, heads]) -> SequenceLoss``,
    reporting ``error`` (the frame loss), ``obs_mse`` and ``pred_mse`` (per pixel, pixels in [0, 1]).

    With ``trains_heads``, a simulator with heads also trains them on the
    batch's rewards and episode ends (:mod:`recurrent_sim.training.heads_loss`),
    and the metrics add the heads' figures; otherwise such a simulator is refused.
    """

    def make(schedule, head_weights=None):
        weights = head_weights if head_weights is not None else HeadWeights()

        def loss_function(simulator, batch):
            if not simulator.has_heads:
                result = compute(simulator, batch.frames, batch.actions, schedule)
            elif trains_heads:
                heads = HeadTargets(batch.rewards, getattr(batch, "episode_ends", None), weights)
                result = compute(simulator, batch.frames, batch.actions, schedule, heads=heads)
            else:
                raise UserError("this loss does not train the reward, episode-end and error heads of the simulator; "
                                f"use {DEFAULT_LOSS} or {INDEPENDENT_LOSS}")
            error = result.frame_error if result.frame_error is not None else float(result.loss.array)
            metrics = {"error": error, "obs_mse": result.obs_mse, "pred_mse": result.pred_mse}
            metrics.update(result.head_metrics)
            return result.loss, metrics

        return loss_function

    return make


# The paper's loss, batched (the fast path), and its step-by-step reference.
register_loss(DEFAULT_LOSS, sequence_metrics_loss(sequence_loss), SEQUENCE_METRICS)
register_loss(REFERENCE_LOSS, sequence_metrics_loss(reference_sequence_loss, trains_heads=False), SEQUENCE_METRICS)
# The prediction-independent simulator's loss (predicted steps from actions alone) and its reference.
register_loss(INDEPENDENT_LOSS, sequence_metrics_loss(independent_loss), SEQUENCE_METRICS)
register_loss(INDEPENDENT_REFERENCE_LOSS, sequence_metrics_loss(reference_independent_loss, trains_heads=False),
              SEQUENCE_METRICS)
