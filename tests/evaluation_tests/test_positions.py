"""BlockWorld's object positions: from the game's state, and found again in (predicted) frames."""
import numpy as np
import pytest

from recurrent_sim.envs import make_game
from recurrent_sim.envs.preprocessing import preprocess_frame
from recurrent_sim.evaluation import record_sequences
from recurrent_sim.evaluation.positions import (
    LOSS_PLACES,
    PositionCurves,
    TrackedObject,
    first_losses,
    locate,
    position_errors,
    tracked_objects,
    true_positions,
)


def played_frames(env_id, frame_size, episodes=6, seed=0):
    """(M, H, W) uint8 frames and (M, 2, 2) true centres of random play, and the tracked objects."""
    game = make_game(env_id, seed=seed, frame_size=frame_size)
    rng = np.random.default_rng(seed)
    frames, positions = [], []
    for _ in range(episodes):
        game.reset()
        done = False
        while not done:
            frames.append(game.last_frame)
            positions.append(true_positions(game))
            _, _, done, _ = game.step(int(rng.integers(5)))
    return np.stack(frames), np.stack(positions), tracked_objects(game)


def test_blockworld_tells_what_its_objects_look_like_and_where_they_are():
    game = make_game("BlockWorld-v1", seed=0, frame_size=32)
    assert tracked_objects(game) == (TrackedObject("square", 6, 200, 20), TrackedObject("ball", 4, 226, 20))
    game.reset()
    base = game.unwrapped
    base._player, base._ball = np.array([3, 10]), np.array([20, 0])
    np.testing.assert_array_equal(true_positions(game), [[5.5, 12.5], [21.5, 1.5]])
    # at twice the game's size, centres and sides scale with the pixels
    double = make_game("BlockWorld-v1", seed=0, frame_size=64)
    double.reset()
    double.unwrapped._player, double.unwrapped._ball = np.array([3, 10]), np.array([20, 0])
    np.testing.assert_array_equal(true_positions(double), [[11.5, 25.5], [43.5, 3.5]])
    assert [obj.side for obj in tracked_objects(double)] == [12, 8]


def test_games_without_object_positions_have_none():
    game = make_game("Breakout-v0", seed=0, frame_size=84)
    assert tracked_objects(game) is None and true_positions(game) is None


@pytest.mark.parametrize("env_id, frame_size", [("BlockWorld-v1", 32), ("BlockWorld-v0", 32), ("BlockWorld-v1", 64)])
def test_objects_are_found_exactly_in_real_frames(env_id, frame_size):
    frames, positions, objects = played_frames(env_id, frame_size)
    np.testing.assert_array_equal(locate(frames, objects), positions)


def test_overlapping_objects_are_found_exactly():
    game = make_game("BlockWorld-v1", seed=0, frame_size=32)
    game.reset()
    base = game.unwrapped
    frames, positions = [], []
    for dy in range(-4, 7):
        for dx in range(-4, 7):  # every ball position touching or inside the square at (10, 10)
            base._player, base._ball = np.array([10, 10]), np.array([10 + dy, 10 + dx])
            frames.append(preprocess_frame(base.render(), (32, 32)))
            positions.append(true_positions(game))
    np.testing.assert_array_equal(locate(np.stack(frames), tracked_objects(game)), np.stack(positions))


def test_perfect_and_shifted_predictions():
    frames, positions, objects = played_frames("BlockWorld-v1", 32, episodes=2)
    count = len(frames) - len(frames) % 4
    real = frames[:count].reshape(4, -1, 32, 32)
    truth = positions[:count].reshape(4, -1, 2, 2)
    errors = position_errors(truth, real, real[:, 0], objects)
    for name in ("square", "ball"):
        np.testing.assert_array_equal(errors[f"{name}_position_error_model"], 0)
    # a prediction two pixels right of the truth (drawn by the game at shifted positions)
    game = make_game("BlockWorld-v1", seed=0, frame_size=32)
    game.reset()
    base = game.unwrapped
    base._player, base._ball = np.array([4, 5]), np.array([20, 12])
    real_frame = preprocess_frame(base.render(), (32, 32))
    real_truth = true_positions(game)
    base._player, base._ball = np.array([4, 7]), np.array([20, 14])
    shifted = preprocess_frame(base.render(), (32, 32))
    errors = position_errors(real_truth[None, None], shifted[None, None], real_frame[None], objects)
    assert {name: value.tolist() for name, value in errors.items()} == {
        "square_position_error_model": [[2.0]], "ball_position_error_model": [[2.0]],
        "square_position_error_repeat_last": [[0.0]], "ball_position_error_repeat_last": [[0.0]]}


def test_position_table():
    errors = {"ball_position_error_model": np.array([[0.0, 1.0], [1.5, 3.0]]),
              "ball_position_error_repeat_last": np.array([[2.0, 2.0], [0.0, 0.0]])}
    table = PositionCurves(["ball"], errors).table()
    assert list(table) == ["ball_position_error_model", "ball_position_error_repeat_last",
                           "ball_within_1px_model", "ball_within_1px_repeat_last"]
    np.testing.assert_array_equal(table["ball_position_error_model"], [0.75, 2.0])
    np.testing.assert_array_equal(table["ball_within_1px_model"], [0.5, 0.5])
    np.testing.assert_array_equal(table["ball_within_1px_repeat_last"], [0.5, 0.5])


def test_recorded_sequences_carry_the_true_positions():
    game = make_game("BlockWorld-v1", seed=2, frame_size=32)
    rng = np.random.default_rng(2)
    sequences = list(record_sequences(game, lambda obs: int(rng.integers(5)), 3, 8, seed=2))
    for sequence in sequences:
        assert sequence.positions.shape == (8, 2, 2)
        assert [obj.name for obj in sequence.objects] == ["square", "ball"]
        np.testing.assert_array_equal(locate(sequence.frames, sequence.objects), sequence.positions)


@pytest.mark.parametrize("ball_gray, found", [(130, True), (115, False)])
def test_a_dim_ball_counts_while_brighter_than_halfway_to_its_gray(ball_gray, found):
    """A predicted ball dimmer than the real one (226) on the background (20) is found while it is closer
    to its gray than to the background's (halfway: 123), even with the brighter square in the frame."""
    square, ball = TrackedObject("square", 6, 200, 20), TrackedObject("ball", 4, 226, 20)
    frame = np.full((1, 32, 32), 20, np.uint8)
    frame[0, 2:8, 2:8] = 200
    frame[0, 20:24, 10:14] = ball_gray
    located = locate(frame, [square, ball])[0]
    np.testing.assert_array_equal(located[0], [4.5, 4.5])
    assert (located[1].tolist() == [21.5, 11.5]) == found


def test_where_an_object_is_first_lost():
    square, ball = TrackedObject("square", 6, 200, 20), TrackedObject("ball", 4, 226, 20)
    # 4 sequences of 3 steps, true centres (y, x) of the square and the ball at each step
    truth = np.zeros((4, 3, 2, 2))
    truth[:, :, 0] = [20.5, 20.5]  # the square stays at rows/columns 18..23
    truth[0, :, 1] = [[10.5, 10.5], [20.5, 15.5], [12.5, 12.5]]  # step 2: side by side with the square
    truth[1, :, 1] = [[10.5, 10.5], [11.5, 11.5], [2.5, 12.5]]  # step 3: its top row is row 1, a wall
    truth[2, :, 1] = [[10.5, 10.5], [11.5, 11.5], [12.5, 12.5]]  # in the open
    truth[3, :, 1] = [[20.5, 14.5], [10.5, 10.5], [12.5, 12.5]]  # a pixel from the square
    ball_errors = np.array([[0.0, 1.5, 0.0], [0.0, 1.0, 4.0], [3.0, 9.0, 9.0], [0.0, 0.0, 0.0]])
    errors = {"square_position_error_model": np.zeros((4, 3)), "ball_position_error_model": ball_errors}
    losses = first_losses(truth, errors, [square, ball], (32, 32))
    np.testing.assert_array_equal(losses["ball_lost_step"], [2, 3, 1, 0])
    np.testing.assert_array_equal(losses["ball_lost_place"], [0, 1, 2, -1])
    np.testing.assert_array_equal(losses["square_lost_step"], [0, 0, 0, 0])
    ball_errors[3, 0] = 2.0  # lost at step 1, a pixel from the square: in the open
    assert first_losses(truth, errors, [square, ball], (32, 32))["ball_lost_place"][3] == 2
    curves = PositionCurves(["square", "ball"], errors, losses)
    assert curves.lost()["ball"] == {"sequences": 4, "lost": 3,
                                     "places": dict(zip(LOSS_PLACES, [1, 1, 1]))}
    assert curves.lost()["square"]["lost"] == 0 and PositionCurves(["ball"], errors).lost() == {}
