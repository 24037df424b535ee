"""Evaluation of a simulator on held-out sequences, batch by batch.

Sequences are consumed in batches of ``batch_size``: each batch is
predicted in one go (one forward pass per step for the whole batch), its
errors are kept, its frames dropped, so memory does not grow with the
number of sequences.
"""
import dataclasses
import itertools
import logging
from typing import List, Optional

import chainer
import numpy as np

from recurrent_sim.evaluation.head_metrics import head_figures
from recurrent_sim.evaluation.metrics import PREDICTORS, ErrorCurves, baseline_errors, per_step_mse
from recurrent_sim.evaluation.objects import DEFAULT_DISTANCE, DEFAULT_LEVEL, ObjectCurves, batch_object_measures
from recurrent_sim.evaluation.positions import PositionCurves, first_losses, position_errors
from recurrent_sim.models.heads import reward_classes
from recurrent_sim.evaluation.rollouts import predict_rollouts
from recurrent_sim.utils.images import luminance

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Evaluation:
    """What :func:`evaluate_simulator` measured.

    Attributes:
        curves: per-sequence, per-step errors of the model and the baselines.
        example_real: (horizon, H, W) uint8 real frames of the first sequence
            after its warm-up ((horizon, 3, H, W) RGB).
        example_predicted: the model's predictions of them, the same shape.
        origins: (episode, start step) of every complete sequence, in order.
        heads: for a simulator with heads, the figures of
            :func:`~recurrent_sim.evaluation.head_metrics.head_figures` over
            every sequence (those cut short by an episode end too); else None.
        objects: per-sequence, per-step object IoU, recall and precision of
            the model and the repeat-last-frame baseline.
        positions: for a game whose sequences carry the objects' true
            positions (BlockWorld), their per-step position errors; else None.
    """

    curves: ErrorCurves
    example_real: np.ndarray
    example_predicted: np.ndarray
    origins: List[tuple]
    heads: Optional[dict] = None
    objects: Optional[ObjectCurves] = None
    positions: Optional[PositionCurves] = None


def _batches(iterable, size):
    iterator = iter(iterable)
    while True:
        batch = list(itertools.islice(iterator, size))
        if not batch:
            return
        yield batch


def evaluate_simulator(simulator, sequences, warmup, batch_size=20, progress=None, object_level=DEFAULT_LEVEL,
                       object_distance=DEFAULT_DISTANCE) -> Evaluation:
    """Predict every sequence after ``warmup`` real frames and measure the errors.

    Args:
        simulator: a :class:`recurrent_sim.models.Simulator` with its mean image.
        sequences: iterable of :class:`~recurrent_sim.evaluation.rollouts.HeldOutSequence`
            of equal length ``warmup + horizon``; the frame errors use the
            complete ones, the heads' figures all.
        warmup: real frames the simulator sees before predicting (>= 1).
        batch_size: sequences predicted together.
        progress: optional Progress advanced by predicted frames; its total (the complete sequences'
            frames) grows by the frames of each sequence cut short by its episode's end as it comes.
        object_level, object_distance: foreground level (gray levels) and
            matching distance (pixels) of the object measures (:mod:`.objects`).
    Returns:
        :class:`Evaluation`.
    """
    if not simulator.has_mean_image:
        raise ValueError("the simulator has no mean image; it was never trained")
    mean_image = chainer.backends.cuda.to_cpu(simulator.mean_image)
    gray = luminance if simulator.config.channels == 3 else np.asarray  # objects are found in gray frames
    errors = {name: [] for name in PREDICTORS}
    origins = []
    example = None
    head_parts = []
    object_parts, position_parts, loss_parts, tracked = [], [], [], None
    for batch in _batches(sequences, batch_size):
        frames = np.stack([s.frames for s in batch])
        actions = np.stack([s.actions for s in batch])
        heads = {} if simulator.has_heads else None
        complete = np.array([s.complete for s in batch])
        if progress is not None and progress.total and not complete.all():  # beyond the complete ones counted
            progress.total += int((~complete).sum()) * (frames.shape[1] - warmup)
        predictions = predict_rollouts(simulator, frames, actions, warmup, progress=progress, heads=heads)
        model_errors = per_step_mse(predictions, frames[:, warmup:])
        if complete.any():
            errors["model"].append(model_errors[complete])
            for name, value in baseline_errors(frames[complete], warmup, mean_image).items():
                errors[name].append(value)
            origins.extend((s.episode, s.start_step) for s in batch if s.complete)
            object_parts.append(batch_object_measures(gray(frames[complete]), gray(predictions[complete]), warmup,
                                                      object_level, object_distance))
            if batch[0].objects is not None:
                tracked = batch[0].objects
                positions = np.stack([s.positions[warmup:] for s in batch])[complete]
                errors_now = position_errors(positions, gray(predictions[complete]),
                                             gray(frames[complete, warmup - 1]), tracked)
                position_parts.append(errors_now)
                loss_parts.append(first_losses(positions, errors_now, tracked, frames.shape[-2:]))
            if example is None:
                first = int(np.flatnonzero(complete)[0])
                example = (frames[first, warmup:].copy(), predictions[first].copy())
        if heads is not None:
            head_parts.append(_head_arrays(batch, warmup, heads, model_errors))
        logger.debug("evaluated %d sequences", len(origins))
    if example is None:
        raise ValueError("no sequence to evaluate")
    curves = ErrorCurves({name: np.concatenate(values) for name, values in errors.items()})
    figures = None
    if head_parts:
        figures = head_figures(**_concatenated(head_parts))
    objects = ObjectCurves(_concatenated(object_parts), level=object_level, distance=object_distance)
    positions = None
    if position_parts:
        positions = PositionCurves([obj.name for obj in tracked], _concatenated(position_parts),
                                   _concatenated(loss_parts))
    return Evaluation(curves=curves, example_real=example[0], example_predicted=example[1], origins=origins,
                      heads=figures, objects=objects, positions=positions)


def _concatenated(parts) -> dict:
    """{name: the batches' arrays of that name, concatenated along the sequences}."""
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def _head_arrays(batch, warmup, heads, model_errors) -> dict:
    """The arguments of :func:`head_figures` for one batch: step k of the horizon is transition
    ``warmup - 1 + k`` of each sequence, valid when that transition happened."""
    horizon = model_errors.shape[1]
    transition = warmup - 1 + np.arange(horizon)
    valid = transition[None, :] < np.array([s.transitions for s in batch])[:, None]
    return dict(
        valid=valid,
        true_rewards=reward_classes(np.stack([s.rewards[transition] for s in batch])),
        predicted_rewards=heads["reward_classes"],
        true_ends=np.stack([s.episode_ends[transition] for s in batch]),
        done_probabilities=heads["done_probabilities"],
        error_estimates=heads["error_estimates"],
        true_errors=model_errors,
    )
