"""Where a game's objects are, in the real game and in predicted frames (pure numpy).

For a game that tells where its objects are (``BlockWorld``: its
``object_positions()`` and ``object_looks()``), the real positions come
from the game's own state and the predicted ones are found in the
predicted frame by fitting a drawing of the game to it:

* the objects are flat squares of one gray level each (``TrackedObject``),
  drawn in a known order on a flat background (BlockWorld: the square,
  then the ball over it);
* each object in turn is put where drawing it over the drawing so far
  (background, then the objects already placed) lowers the sum of squared
  differences to the frame most, among all positions inside the frame.

On a real frame this finds every object exactly, overlaps included (the
tests check it on recorded frames). In a prediction, an object drawn
dimmer than halfway between its gray level and what lies under it counts
as not drawn there, so a ball smeared into the background is placed
wherever the least wrong spot is: its error is then large, as it should be.

Position error = Euclidean distance in pixels between the located centre
and the true centre; a ball is "within 1 pixel" when that distance is <= 1.
"""
import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

from recurrent_sim.envs.preprocessing import to_gray

POSITION_PREDICTORS = ("model", "repeat_last")
WITHIN_PIXELS = 1.0  # the "within 1 pixel" share


@dataclasses.dataclass(frozen=True)
class TrackedObject:
    """An object of the game as it appears in the preprocessed frames.

    Attributes:
        name: e.g. ``"ball"``.
        side: side of its square, pixels of the preprocessed frame.
        gray: its gray level, 0..255.
        background: gray level of the game's background, 0..255.
    """

    name: str
    side: int
    gray: int
    background: int


def _gray(rgb) -> int:
    return int(to_gray(np.array([[rgb]], dtype=np.uint8))[0, 0])


def _base_env(game):
    base = getattr(game, "unwrapped", None)
    return base if base is not None and hasattr(base, "object_positions") else None


def _scale(game, base):
    """(scale y, scale x): preprocessed frame pixels per pixel of the game's own frame."""
    height, width = game.frame_shape
    return height / base.size, width / base.size


def tracked_objects(game) -> Optional[Sequence[TrackedObject]]:
    """The objects of ``game`` (a PreprocessedEnv) in drawing order, or None when the game does not
    tell where its objects are. Sides are scaled to the preprocessed frame (exact at the game's own size)."""
    base = _base_env(game)
    if base is None:
        return None
    from recurrent_sim.envs.synthetic import BACKGROUND_RGB

    scale = min(_scale(game, base))
    background = _gray(BACKGROUND_RGB)
    return tuple(TrackedObject(name, max(1, int(round(look.side * scale))), _gray(look.rgb), background)
                 for name, look in base.object_looks().items())


def true_positions(game) -> Optional[np.ndarray]:
    """(n_objects, 2) float64 centres (y, x) of the objects now, in pixels of the preprocessed frame
    (pixel centres at integers), in :func:`tracked_objects`' order; None when the game does not tell."""
    base = _base_env(game)
    if base is None:
        return None
    scale = np.array(_scale(game, base))
    centres = np.array([base.object_positions()[name] for name in base.object_looks()], dtype=np.float64)
    return (centres + 0.5) * scale - 0.5


def _window_sums(values, side):
    """(M, H - side + 1, W - side + 1) sums of ``values`` (M, H, W) over every side x side window."""
    integral = np.zeros((values.shape[0], values.shape[1] + 1, values.shape[2] + 1), dtype=values.dtype)
    integral[:, 1:, 1:] = values.cumsum(axis=1).cumsum(axis=2)
    return (integral[:, side:, side:] - integral[:, :-side, side:]
            - integral[:, side:, :-side] + integral[:, :-side, :-side])


def locate(frames, objects: Sequence[TrackedObject]) -> np.ndarray:
    """The objects' centres in each frame, by fitting a drawing of the game (see the module's docstring).

    Args:
        frames: (M, H, W) uint8 frames.
        objects: the objects in drawing order.
    Returns:
        (M, n_objects, 2) float64 centres (y, x), pixels.
    """
    frames = np.asarray(frames).astype(np.int64)
    count, height, width = frames.shape
    drawing = np.full_like(frames, objects[0].background if objects else 0)
    centres = np.zeros((count, len(objects), 2))
    rows = np.arange(count)
    for i, obj in enumerate(objects):
        # change of the squared difference where the object is drawn over the drawing so far
        gain = np.square(frames - obj.gray) - np.square(frames - drawing)
        scores = _window_sums(gain, obj.side).reshape(count, -1)
        best = scores.argmin(axis=1)
        top, left = np.divmod(best, width - obj.side + 1)
        centres[:, i] = np.stack([top, left], axis=1) + (obj.side - 1) / 2.0
        window = np.arange(obj.side)
        drawn_rows, drawn_columns = (top[:, None] + window)[:, :, None], (left[:, None] + window)[:, None, :]
        drawing[rows[:, None, None], drawn_rows, drawn_columns] = obj.gray
    return centres


def position_errors(real_positions, predictions, warmup_frame, objects) -> Dict[str, np.ndarray]:
    """Per-sequence, per-step position errors of the model and of the repeat-last-frame baseline.

    Args:
        real_positions: (N, horizon, n_objects, 2) true centres after the warm-up, pixels.
        predictions: (N, horizon, H, W) uint8 the model's frames.
        warmup_frame: (N, H, W) uint8 the last real warm-up frame (the baseline's prediction at every step).
        objects: the objects, in the order of ``real_positions``.
    Returns:
        {"{object}_position_error_{predictor}": (N, horizon) float64 pixels} for predictor in
        ``POSITION_PREDICTORS``.
    """
    real_positions = np.asarray(real_positions, dtype=np.float64)
    n, horizon = real_positions.shape[:2]
    predictions = np.asarray(predictions)
    located = {
        "model": locate(predictions.reshape((-1,) + predictions.shape[2:]), objects).reshape(n, horizon, -1, 2),
        "repeat_last": locate(np.asarray(warmup_frame), objects)[:, None],
    }
    errors = {}
    for predictor in POSITION_PREDICTORS:
        distance = np.linalg.norm(located[predictor] - real_positions, axis=-1)  # (N, horizon, n_objects)
        for i, obj in enumerate(objects):
            errors[f"{obj.name}_position_error_{predictor}"] = distance[:, :, i]
    return errors


@dataclasses.dataclass
class PositionCurves:
    """Per-sequence, per-step position errors (see :func:`position_errors`).

    Attributes:
        objects: names of the objects, in drawing order.
        errors: "{object}_position_error_{predictor}" -> (N, horizon) float64 pixels.
    """

    objects: Sequence[str]
    errors: Dict[str, np.ndarray]

    def table(self) -> Dict[str, np.ndarray]:
        """Columns of ``metrics.csv``, each (horizon,): per object and predictor the mean position
        error (pixels) and the share of sequences whose object is within ``WITHIN_PIXELS`` of the truth."""
        columns = {}
        for name in self.objects:
            for predictor in POSITION_PREDICTORS:
                key = f"{name}_position_error_{predictor}"
                columns[key] = self.errors[key].mean(axis=0)
        for name in self.objects:
            for predictor in POSITION_PREDICTORS:
                within = self.errors[f"{name}_position_error_{predictor}"] <= WITHIN_PIXELS
                columns[f"{name}_within_1px_{predictor}"] = within.mean(axis=0)
        return columns
