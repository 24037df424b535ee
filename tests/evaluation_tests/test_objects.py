"""Object IoU, recall and precision on synthetic frames whose answers are known."""
import numpy as np
import pytest

from recurrent_sim.evaluation.objects import (
    ObjectCurves,
    batch_object_measures,
    foreground,
    object_centres,
    object_horizon,
    object_measures,
)

SIZE = 16


def square_frames(columns, row=6, side=3, gray=200, size=SIZE):
    """(1, len(columns), size, size) uint8 frames of a side x side square at (row, column) on black."""
    frames = np.zeros((1, len(columns), size, size), np.uint8)
    for t, column in enumerate(columns):
        frames[0, t, row : row + side, column : column + side] = gray
    return frames


def measures(real, predicted, **kwargs):
    """object_measures of (1, T, H, W) frames against a black still background."""
    return {name: value[0].tolist() for name, value in object_measures(real, predicted, np.zeros((1, SIZE, SIZE)),
                                                              **kwargs).items()}


def test_an_object_where_it_should_be_is_found_and_the_repeated_frame_falls_behind():
    # a 3x3 square moving one pixel right per frame: 2 warm-up frames, 6 predicted steps
    frames = square_frames(range(8))
    values = batch_object_measures(frames, frames[:, 2:].copy(), warmup=2)
    for measure in ("iou", "recall", "precision"):
        np.testing.assert_array_equal(values[f"object_{measure}_model"], np.ones((1, 6)))
    # the last warm-up frame (square at columns 1..3) against the square k pixels further right:
    # overlap (3 - k) columns; centres k pixels apart, matched up to 2 pixels
    np.testing.assert_allclose(values["object_iou_repeat_last"][0], [6 / 12, 3 / 15, 0, 0, 0, 0])
    np.testing.assert_array_equal(values["object_recall_repeat_last"][0], [1, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(values["object_precision_repeat_last"][0], [1, 1, 1, 0, 0, 0])
    assert sorted(values) == sorted(f"object_{m}_{p}" for m in ("iou", "recall", "precision")
                                    for p in ("model", "repeat_last"))


def test_the_matching_distance_is_a_flag():
    real, shifted = square_frames([8]), square_frames([12])  # centres 4 pixels apart, 1 pixel gap
    assert measures(real, shifted)["recall"][0] == 0
    assert measures(real, shifted, distance=3)["recall"][0] == 1  # centre (7, 9) is 3 pixels from column 12
    assert measures(real, shifted, distance=3)["precision"][0] == 1


def test_a_vanished_one_pixel_ball_costs_half_the_recall_and_no_precision():
    real = square_frames([2])
    real[0, 0, 12, 12] = 110  # a one-pixel ball: one object, as much as the square
    predicted = square_frames([2])
    values = measures(real, predicted)
    assert values["recall"][0] == 0.5 and values["precision"][0] == 1
    assert values["iou"][0] == pytest.approx(9 / 10)
    frame, centres = object_centres(foreground(real, np.zeros((1, SIZE, SIZE)))[0])
    assert frame.tolist() == [0, 0] and centres.tolist() == [[7, 3], [12, 12]]


def test_a_smear_lowers_iou_and_precision():
    real = np.zeros((1, 1, SIZE, SIZE), np.uint8)
    real[0, 0, 4:6, 4:6] = 226  # a 2x2 ball
    smeared = np.zeros_like(real)
    smeared[0, 0, 1:9, 1:9] = 60  # the ball blurred over 8x8 pixels, above the level
    smeared[0, 0, 13, 2:14] = 90  # and a bright streak where nothing is
    values = measures(real, smeared)
    assert values["iou"][0] == pytest.approx(4 / (64 + 12))
    assert values["recall"][0] == 1
    assert values["precision"][0] == 0.5  # the blob's centre is on the ball, the streak's on nothing
    assert measures(real, smeared, level=60)["precision"][0] == 0  # the blur is background now; the streak stays


def test_level_is_strict_and_measured_from_the_still_background():
    background = np.full((1, SIZE, SIZE), 100.0)
    frames = np.full((1, 1, SIZE, SIZE), 100, np.uint8)
    frames[0, 0, 0, 0], frames[0, 0, 0, 5], frames[0, 0, 0, 9] = 130, 131, 69
    mask = foreground(frames, background, level=30)[0, 0]
    assert np.argwhere(mask).tolist() == [[0, 5], [0, 9]]


def test_empty_frames_and_ghosts():
    empty = np.zeros((1, 1, SIZE, SIZE), np.uint8)
    assert measures(empty, empty) == {"iou": [1.0], "recall": [1.0], "precision": [1.0]}
    ghost = square_frames([5])
    assert measures(empty, ghost) == {"iou": [0.0], "recall": [1.0], "precision": [0.0]}
    assert measures(ghost, empty) == {"iou": [0.0], "recall": [0.0], "precision": [1.0]}


def test_objects_are_8_connected_within_a_frame_and_never_across_frames():
    masks = np.zeros((2, SIZE, SIZE), bool)
    masks[:, 3, 3] = masks[:, 4, 4] = True  # diagonal neighbours: one object
    masks[1, 10, 10] = True
    frame, centres = object_centres(masks)
    assert frame.tolist() == [0, 1, 1]
    assert centres.tolist() == [[4, 4], [4, 4], [10, 10]]  # (3.5, 3.5) rounds half up


def test_object_horizon():
    assert object_horizon([1.0, 0.8, 0.5, 0.49, 0.7]) == 4
    assert object_horizon([1.0, 0.5, 0.5]) is None
    recall = np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])  # mean 1, 0.5, 0
    curves = ObjectCurves({"object_recall_model": recall})
    assert curves.horizon() == 3
    np.testing.assert_array_equal(curves.mean("object_recall_model"), [1.0, 0.5, 0.0])
