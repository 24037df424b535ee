"""Does a prediction keep the game's moving objects? Object IoU, recall and precision (numpy + scipy.ndimage).

The pixel error hides small objects: Breakout's ball covers 2 to 4 of the
7 056 pixels of an 84 x 84 frame, so a prediction without it loses almost
nothing in MSE. These measures weigh objects, not pixels. For each held-out
sequence and each prediction step k:

* **background**: the sequence's still picture, the per-pixel median of its
  real frames (warm-up + horizon), (H, W);
* **foreground** of a frame: the pixels whose gray level differs from the
  background by more than ``level`` (0..255);
* **objects** of a foreground: its connected components (8-connectivity);
  an object's centre is the mean of its pixels' coordinates, rounded to the
  nearest pixel;
* **object IoU**: |real foreground & predicted foreground| / |real | predicted|;
  1 when both are empty (nothing moves, and nothing is predicted to);
* **object recall**: the share of the real frame's objects whose centre lies
  within ``distance`` pixels (Euclidean, between pixel centres) of a
  predicted foreground pixel; 1 when the real frame has no object. Every
  object weighs the same: a one-pixel ball as much as the paddle;
* **object precision**: the reverse, the share of the predicted frame's
  objects whose centre lies within ``distance`` pixels of real foreground;
  1 when the prediction has no object. Bright smears and ghosts count
  against it.

Each is measured for the model and for the repeat-last-frame baseline (the
last real warm-up frame, repeated), and averaged over the sequences. The
**object horizon** is the first step whose mean model recall is under
``RECALL_HORIZON`` (0.5): from there on, most of the objects of the real
game are missing from the predictions.

Default level, ``DEFAULT_LEVEL`` = 30 gray levels: Breakout's ball (a 2 x 4
pixel sprite of gray 110 in the 210 x 160 screen) becomes a blob of 1 to 3
pixels at 84 x 84 whose brightest pixel differs from the dark background by
46 to 110 gray levels (median 80; measured on 582 frames of 6 episodes of
BreakoutDeterministic-v4 against the median of 60-frame sequences), so 30
keeps it in every frame with a margin of 16, while the faint edges of a
blurry prediction stay background. BlockWorld's objects differ from their
background (20) by 180 (the square) and 206 (the ball).
"""
import dataclasses
from typing import Dict, Optional

import numpy as np
from scipy import ndimage

DEFAULT_LEVEL = 30.0  # gray levels, 0..255
DEFAULT_DISTANCE = 2.0  # pixels
RECALL_HORIZON = 0.5
OBJECT_PREDICTORS = ("model", "repeat_last")
MEASURES = ("iou", "recall", "precision")

_ONE_FRAME_8_CONNECTED = np.pad(np.ones((1, 3, 3), dtype=bool), ((1, 1), (0, 0), (0, 0)))  # frames stay apart


def still_background(frames) -> np.ndarray:
    """(N, H, W) float64: per-pixel median of each sequence's real frames (N, length, H, W) uint8."""
    return np.median(np.asarray(frames), axis=1)


def foreground(frames, background, level=DEFAULT_LEVEL) -> np.ndarray:
    """(N, T, H, W) bool: pixels of ``frames`` (N, T, H, W) uint8 further than ``level`` gray levels
    from ``background`` (N, H, W)."""
    difference = np.asarray(frames, dtype=np.float32) - np.asarray(background, dtype=np.float32)[:, None]
    return np.abs(difference) > level  # float32 holds uint8 values and their half-way medians exactly


def iou(real, predicted) -> np.ndarray:
    """(M,) intersection over union of boolean masks (M, H, W); 1 where both are empty."""
    overlap = np.count_nonzero(real & predicted, axis=(1, 2))
    union = np.count_nonzero(real | predicted, axis=(1, 2))
    return np.where(union > 0, overlap / np.maximum(union, 1), 1.0)


def object_centres(masks):
    """Connected components (8-connectivity) of each mask of a stack and their centres.

    Args:
        masks: (M, H, W) bool.
    Returns:
        (frame index (K,) int, centres (K, 2) int (y, x) rounded to the nearest pixel) for the K
        objects of all frames.
    """
    labels, count = ndimage.label(masks, structure=_ONE_FRAME_8_CONNECTED)
    frame, ys, xs = np.nonzero(labels)
    ids = labels[frame, ys, xs]
    sizes = np.bincount(ids, minlength=count + 1)[1:]
    frame_of = np.bincount(ids, weights=frame, minlength=count + 1)[1:] / np.maximum(sizes, 1)
    centre_y = np.bincount(ids, weights=ys, minlength=count + 1)[1:] / np.maximum(sizes, 1)
    centre_x = np.bincount(ids, weights=xs, minlength=count + 1)[1:] / np.maximum(sizes, 1)
    centres = np.floor(np.stack([centre_y, centre_x], axis=1) + 0.5).astype(np.int64)
    return np.rint(frame_of).astype(np.int64), centres


def disc(radius) -> np.ndarray:
    """(2r + 1, 2r + 1) bool: the pixels within ``radius`` (Euclidean) of the centre, r = floor(radius)."""
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    return dy * dy + dx * dx <= radius * radius


def matched_share(objects_of, near, distance=DEFAULT_DISTANCE) -> np.ndarray:
    """(M,) share of the objects of ``objects_of`` whose centre lies within ``distance`` pixels of a
    pixel of ``near``; 1 where ``objects_of`` has no object.

    Args:
        objects_of, near: (M, H, W) bool masks.
        distance: pixels, >= 0.
    """
    frame, centres = object_centres(objects_of)
    reach = ndimage.binary_dilation(near, structure=disc(distance)[None])
    hits = reach[frame, centres[:, 0], centres[:, 1]]
    count = np.bincount(frame, minlength=len(near))
    found = np.bincount(frame, weights=hits, minlength=len(near))
    return np.where(count > 0, found / np.maximum(count, 1), 1.0)


def object_measures(real, predicted, background, level=DEFAULT_LEVEL, distance=DEFAULT_DISTANCE):
    """IoU, recall and precision of one predictor on a batch of sequences.

    Args:
        real: (N, T, H, W) uint8 real frames after the warm-up.
        predicted: (N, T, H, W) or (N, 1, H, W) (one frame for every step) uint8 predictions.
        background: (N, H, W) the sequences' still backgrounds (:func:`still_background`).
    Returns:
        {"iou", "recall", "precision"}: (N, T) float64.
    """
    real_mask = foreground(real, background, level)
    predicted_mask = np.broadcast_to(foreground(predicted, background, level), real_mask.shape)
    n, steps = real_mask.shape[:2]
    real_mask = real_mask.reshape((-1,) + real_mask.shape[2:])
    predicted_mask = np.ascontiguousarray(predicted_mask).reshape(real_mask.shape)
    return {
        "iou": iou(real_mask, predicted_mask).reshape(n, steps),
        "recall": matched_share(real_mask, predicted_mask, distance).reshape(n, steps),
        "precision": matched_share(predicted_mask, real_mask, distance).reshape(n, steps),
    }


def batch_object_measures(frames, predictions, warmup, level=DEFAULT_LEVEL, distance=DEFAULT_DISTANCE):
    """:func:`object_measures` of the model and of the repeat-last-frame baseline on recorded sequences.

    Args:
        frames: (N, warmup + horizon, H, W) uint8 real frames.
        predictions: (N, horizon, H, W) uint8 the model's predictions.
    Returns:
        {"object_{measure}_{predictor}": (N, horizon) float64}.
    """
    background = still_background(frames)
    real = frames[:, warmup:]
    predicted = {"model": predictions, "repeat_last": frames[:, warmup - 1 : warmup]}
    values = {}
    for predictor in OBJECT_PREDICTORS:
        for measure, value in object_measures(real, predicted[predictor], background, level, distance).items():
            values[f"object_{measure}_{predictor}"] = value
    return values


def object_horizon(mean_recall, threshold=RECALL_HORIZON) -> Optional[int]:
    """First step (1-based) whose mean recall (horizon,) is under ``threshold``; None if none is."""
    under = np.flatnonzero(np.asarray(mean_recall) < threshold)
    return int(under[0]) + 1 if len(under) else None


@dataclasses.dataclass
class ObjectCurves:
    """Per-sequence, per-step object measures (see the module's docstring).

    Attributes:
        values: "object_{iou|recall|precision}_{model|repeat_last}" -> (N, horizon) float64 in [0, 1].
        level: foreground level, gray levels.
        distance: matching distance, pixels.
    """

    values: Dict[str, np.ndarray]
    level: float = DEFAULT_LEVEL
    distance: float = DEFAULT_DISTANCE

    def mean(self, name) -> np.ndarray:
        """(horizon,) ``values[name]`` averaged over sequences."""
        return self.values[name].mean(axis=0)

    def horizon(self) -> Optional[int]:
        """The object horizon: first step whose mean model recall is under ``RECALL_HORIZON``, or None."""
        return object_horizon(self.mean("object_recall_model"))

    def table(self) -> Dict[str, np.ndarray]:
        """Columns of ``metrics.csv``, each (horizon,), in order."""
        return {f"object_{m}_{p}": self.mean(f"object_{m}_{p}") for m in MEASURES for p in OBJECT_PREDICTORS}
