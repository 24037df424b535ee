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
:func:`first_losses` says where each object was when the model first lost it.
"""
import dataclasses
from typing import Dict, Optional, Sequence

import numpy as np

from recurrent_sim.envs.preprocessing import to_gray

POSITION_PREDICTORS = ("model", "repeat_last")
WITHIN_PIXELS = 1.0  # the "within 1 pixel" share
# where an object is when the model first puts it more than WITHIN_PIXELS off (see first_losses)
LOSS_PLACES = ("touching another object", "at a wall", "in the open")


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


def first_losses(real_positions, model_errors, objects, frame_shape) -> Dict[str, np.ndarray]:
    """Where each object is lost: the first step its model error exceeds ``WITHIN_PIXELS``, and the
    place it then is (an index into :data:`LOSS_PLACES`, the first that holds):

    * touching another object: the two squares overlap or share an edge (their centres at most
      ``(side_a + side_b) / 2`` pixels apart on both axes);
    * at a wall: the object's square is within a pixel of the frame's edge;
    * in the open: neither.

    Args:
        real_positions: (N, horizon, n_objects, 2) true centres (y, x), pixels.
        model_errors: {"{object}_position_error_model": (N, horizon)} (as :func:`position_errors`).
        objects: the :class:`TrackedObject` s, in the order of ``real_positions``.
        frame_shape: (H, W) of the frames.
    Returns:
        {"{object}_lost_step": (N,) int64, 1-based, 0 when never lost; "{object}_lost_place": (N,) int64,
        -1 when never lost}.
    """
    real_positions = np.asarray(real_positions, dtype=np.float64)
    n = len(real_positions)
    limits = np.array(frame_shape, dtype=np.float64) - 1
    sides = np.array([obj.side for obj in objects], dtype=np.float64)
    losses = {}
    others = ~np.eye(len(objects), dtype=bool)
    for i, obj in enumerate(objects):
        lost = model_errors[f"{obj.name}_position_error_model"] > WITHIN_PIXELS
        step = np.where(lost.any(axis=1), lost.argmax(axis=1) + 1, 0)
        place = np.full(n, -1, dtype=np.int64)
        reach = (sides[i] + sides)[:, None] / 2  # (n_objects, 1): farthest centre distance that still touches
        half = (sides[i] - 1) / 2
        for k in np.flatnonzero(step):
            at = real_positions[k, step[k] - 1]  # (n_objects, 2)
            touching = np.any(others[i] & np.all(np.abs(at - at[i]) <= reach, axis=1))
            walled = np.any(at[i] - half <= 1) or np.any(at[i] + half >= limits - 1)
            place[k] = 0 if touching else 1 if walled else 2
        losses[f"{obj.name}_lost_step"] = step.astype(np.int64)
        losses[f"{obj.name}_lost_place"] = place
    return losses


@dataclasses.dataclass
class PositionCurves:
    """Per-sequence, per-step position errors (see :func:`position_errors`).

    Attributes:
        objects: names of the objects, in drawing order.
        errors: "{object}_position_error_{predictor}" -> (N, horizon) float64 pixels.
    """

    objects: Sequence[str]
    errors: Dict[str, np.ndarray]
    losses: Optional[Dict[str, np.ndarray]] = None  # of :func:`first_losses`

    def lost(self) -> Dict[str, dict]:
        """Per object: in how many of the sequences the model first put it more than ``WITHIN_PIXELS``
        off within the horizon, and how many of those at each of :data:`LOSS_PLACES` ({} without losses)."""
        if not self.losses:
            return {}
        summary = {}
        for name in self.objects:
            step, place = self.losses[f"{name}_lost_step"], self.losses[f"{name}_lost_place"]
            summary[name] = {"sequences": int(len(step)), "lost": int((step > 0).sum()),
                             "places": {where: int((place == i).sum()) for i, where in enumerate(LOSS_PLACES)}}
        return summary

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
