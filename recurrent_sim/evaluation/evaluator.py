"""Evaluation of a simulator on held-out sequences, batch by batch.

Sequences are consumed in batches of ``batch_size``: each batch is
predicted in one go (one forward pass per step for the whole batch), its
errors are kept, its frames dropped, so memory does not grow with the
number of sequences.
"""
import dataclasses
import itertools
import logging
from typing import List

import chainer
import numpy as np

from recurrent_sim.evaluation.metrics import PREDICTORS, ErrorCurves, baseline_errors, per_step_mse
from recurrent_sim.evaluation.rollouts import predict_rollouts

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate_simulator` measured.

    Attributes:
        curves: per-sequence, per-step errors of the model and the baselines.
        example_real: (horizon, H, W) uint8 real frames of the first sequence
            after its warm-up.
        example_predicted: (horizon, H, W) uint8 the model's predictions of them.
        origins: (episode, start step) of every sequence, in order.
    """

    curves: ErrorCurves
    example_real: np.ndarray
    example_predicted: np.ndarray
    origins: List[tuple]


def _batches(iterable, size):
    iterator = iter(iterable)
    while True:
        batch = list(itertools.islice(iterator, size))
        if not batch:
            return
        yield batch


def evaluate_simulator(simulator, sequences, warmup, batch_size=20, progress=None) -> Evaluation:
    """Predict every sequence after ``warmup`` real frames and measure the errors.

    Args:
        simulator: a :class:`recurrent_sim.models.Simulator` with its mean image.
        sequences: iterable of :class:`~recurrent_sim.evaluation.rollouts.HeldOutSequence`
            of equal length ``warmup + horizon``.
        warmup: real frames the simulator sees before predicting (>= 1).
        batch_size: sequences predicted together.
        progress: optional Progress advanced by predicted frames.
    Returns:
        :class:`Evaluation`.
    """
    if not simulator.has_mean_image:
        raise ValueError("the simulator has no mean image; it was never trained")
    mean_image = chainer.backends.cuda.to_cpu(simulator.mean_image)
    errors = {name: [] for name in PREDICTORS}
    origins = []
    example = None
    for batch in _batches(sequences, batch_size):
        frames = np.stack([s.frames for s in batch])
        actions = np.stack([s.actions for s in batch])
        predictions = predict_rollouts(simulator, frames, actions, warmup, progress=progress)
        errors["model"].append(per_step_mse(predictions, frames[:, warmup:]))
        for name, value in baseline_errors(frames, warmup, mean_image).items():
            errors[name].append(value)
        origins.extend((s.episode, s.start_step) for s in batch)
        if example is None:
            example = (frames[0, warmup:].copy(), predictions[0].copy())
        logger.debug("evaluated %d sequences", len(origins))
    if example is None:
        raise ValueError("no sequence to evaluate")
    curves = ErrorCurves({name: np.concatenate(values) for name, values in errors.items()})
    return Evaluation(curves=curves, example_real=example[0], example_predicted=example[1], origins=origins)
