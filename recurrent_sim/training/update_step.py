"""One update of a model by a loss function, never applying a non-finite value.

A loss function is ``loss_function(model, batch) -> (loss, metrics)``:
``loss`` a scalar ``chainer.Variable`` to minimise, ``metrics`` a dict of
named floats (what logs show, e.g. ``{"error": ..., "obs_mse": ...}``).
:class:`UpdateStep` computes it, refuses a non-finite loss or gradient
(nothing is applied), lets the optimizer update (its ``GradientClipping``
hook clips the gradient's L2 norm, see :func:`make_optimizer`) and checks
that the parameters stayed finite.
"""
import dataclasses
import math

import chainer

from recurrent_sim.models import fast_conv
from recurrent_sim.models.deferred_gradients import deferred_parameter_gradients
from recurrent_sim.utils.cpu_pool import fast_path_threads
from recurrent_sim.utils.finite import is_finite


def all_finite(arrays) -> bool:
    """True when every array (numpy or cupy; None entries ignored) holds only finite values."""
    return all(is_finite(array) for array in arrays)


@dataclasses.dataclass
class StepOutcome:
    """What one :class:`UpdateStep` call did.

    Attributes:
        applied: the optimizer updated the parameters.
        metrics: the loss function's metrics (floats) for this batch.
        problem: why the update was not applied or went wrong ('' when fine).
        parameters_damaged: the update was applied and made a parameter non-finite.
    """

    applied: bool
    metrics: dict
    problem: str = ""
    parameters_damaged: bool = False


class UpdateStep:
    """Applies ``optimizer`` to ``model`` with the gradient of ``loss_function`` on a batch.

    Args:
        model: a ``chainer.Link`` (the simulator).
        optimizer: a Chainer optimizer set up on ``model``.
        loss_function: ``(model, batch) -> (loss Variable, metrics dict of floats)``.
    """

    def __init__(self, model, optimizer, loss_function):
        self.model = model
        self.optimizer = optimizer
        self.loss_function = loss_function

    def backward(self, loss):
        """``loss.backward()``; on the fast CPU path the layers' parameter gradients are computed
        together at its end (:mod:`recurrent_sim.models.deferred_gradients`)."""
        with deferred_parameter_gradients(fast_conv.fast_path(self.model.xp)):
            loss.backward()

    def parameters_finite(self) -> bool:
        return all_finite(param.array for param in self.model.params())

    def __call__(self, batch) -> StepOutcome:
        # On the fast CPU path the loss and its gradient bring their own threads.
        with fast_path_threads(fast_conv.fast_path(self.model.xp)):
            loss, metrics = self.loss_function(self.model, batch)
            value = float(loss.array)
            if not math.isfinite(value):
                return StepOutcome(False, metrics, f"loss is {value}")
            self.model.cleargrads()
            self.backward(loss)
        if not all_finite(param.grad for param in self.model.params()):
            return StepOutcome(False, metrics, "gradient is not finite")
        self.optimizer.update()
        if not self.parameters_finite():
            return StepOutcome(True, metrics, "parameters are not finite", parameters_damaged=True)
        return StepOutcome(True, metrics)


def metric_sums(loss_function, model, batches):
    """Each metric of ``loss_function`` summed over ``batches``, weighted by their
    sequences, without backprop and in test mode; returns ``(totals dict, sequences)``."""
    totals, count = {}, 0
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        for batch in batches:
            _, metrics = loss_function(model, batch)
            for name, value in metrics.items():
                totals[name] = totals.get(name, 0.0) + len(batch.frames) * value
            count += len(batch.frames)
    return totals, count


def mean_metrics(loss_function, model, batches) -> dict:
    """Each metric of ``loss_function`` averaged over ``batches``, weighted by
    their sequences, without backprop and in test mode."""
    totals, count = metric_sums(loss_function, model, batches)
    return {name: total / count for name, total in totals.items()}
