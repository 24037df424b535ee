"""Recording held-out sequences and predicting them in batches."""
import chainer
import numpy as np
import pytest

from recurrent_sim.envs import make_game
from recurrent_sim.utils.errors import UserError
from recurrent_sim.evaluation import evaluate_simulator, predict_rollouts, record_sequences

from recurrent_sim.utils.progress import Progress
from tests.helpers import BLOCKWORLD, FRAME_SIZE, small_simulator


class LabelledGame:
    """A game whose frame says where it comes from: pixel (0, 0) is the episode,
    (0, 1) the step in the episode, (0, 2) the action that led to it.

    Episodes last ``lengths[episode % len(lengths)]`` steps.
    """

    def __init__(self, lengths):
        self.lengths = lengths
        self.episode = -1
        self.step_count = 0
        self.last_action = 0

    @property
    def last_frame(self):
        frame = np.zeros((4, 4), np.uint8)
        frame[0, :3] = (self.episode, self.step_count, self.last_action)
        return frame

    def reset(self):
        self.episode += 1
        self.step_count = 0
        self.last_action = 0
        return self.last_frame[None]

    def step(self, action):
        self.step_count += 1
        self.last_action = action
        done = self.step_count >= self.lengths[self.episode % len(self.lengths)]
        return self.last_frame[None], 0.0, done, {}


def cycling_actions(obs):
    """Action 1..3 from the step number, so actions can be checked against frames."""
    return 1 + int(obs[0, 0, 1]) % 3


@pytest.mark.parametrize("max_gap", [0, 3])
def test_sequences_stay_inside_one_episode_and_align_actions(max_gap):
    game = LabelledGame([4, 12, 3, 9, 20])
    sequences = list(record_sequences(game, cycling_actions, 8, 6, seed=1, max_gap=max_gap))
    assert len(sequences) == 8
    for sequence in sequences:
        assert sequence.frames.shape == (6, 4, 4) and sequence.frames.dtype == np.uint8
        assert sequence.actions.shape == (5,) and sequence.actions.dtype == np.int32
        episodes, steps, arrived_by = sequence.frames[:, 0, 0], sequence.frames[:, 0, 1], sequence.frames[:, 0, 2]
        assert np.all(episodes == sequence.episode)
        np.testing.assert_array_equal(steps, sequence.start_step + np.arange(6))
        # actions[t] was taken on frames[t] and led to frames[t + 1]
        np.testing.assert_array_equal(sequence.actions, 1 + steps[:-1] % 3)
        np.testing.assert_array_equal(arrived_by[1:], sequence.actions)
        length = game.lengths[sequence.episode % len(game.lengths)]
        assert sequence.start_step + 5 <= length  # the last frame may be the episode's final one
    assert {s.episode % 5 for s in sequences} <= {1, 3, 4}  # episodes of 4 and 3 steps are too short
    if max_gap == 0:
        starts = [(s.episode, s.start_step) for s in sequences[:3]]
        assert starts == [(1, 0), (1, 5), (3, 0)]  # back to back, a 12-step episode holds two


def test_episodes_too_short_raise_user_error():
    game = LabelledGame([5])
    with pytest.raises(UserError, match="^played 4 episodes, 0 long enough for 8 frames \\(longest 6 frames\\), "
                                        "and recorded 0 of 1 sequences; lower --warmup or --horizon$"):
        list(record_sequences(game, cycling_actions, 1, 8, probe_episodes=4))
    assert game.episode == 3


def test_rare_long_episodes_are_waited_for_within_a_bound(caplog):
    game = LabelledGame([3, 3, 3, 3, 3, 3, 3, 3, 3, 10])  # one episode in ten holds a sequence of 8 frames
    with caplog.at_level("INFO", logger="recurrent_sim.evaluation.rollouts"):
        sequences = list(record_sequences(game, cycling_actions, 3, 8, max_gap=0, probe_episodes=10))
    assert [s.episode for s in sequences] == [9, 19, 29]
    assert "played 30 episodes, 3 long enough for 8 frames" in caplog.messages
    game = LabelledGame([3, 3, 3, 3, 3, 3, 3, 3, 3, 10])
    with pytest.raises(UserError, match="^played 25 episodes, 2 long enough for 8 frames \\(longest 11 frames\\), "
                                        "and recorded 2 of 3 sequences"):
        list(record_sequences(game, cycling_actions, 3, 8, max_gap=0, probe_episodes=10, max_episodes=25))


def test_a_time_limit_shorter_than_a_sequence_is_refused_at_once():
    game = make_game(BLOCKWORLD, seed=0, frame_size=FRAME_SIZE)
    with pytest.raises(UserError, match="^episodes of BlockWorld-v0 end after at most 100 steps \\(101 frames\\), "
                                        "too few for 154 frames; lower --warmup or --horizon$"):
        next(record_sequences(game, lambda obs: 0, 1, 154))


def test_blockworld_v1_gives_sequences_longer_than_most_of_its_episodes():
    game = make_game("BlockWorld-v1", seed=0, frame_size=FRAME_SIZE)
    rng = np.random.default_rng(0)
    sequences = list(record_sequences(game, lambda obs: int(rng.integers(5)), 4, 54, seed=0, keep_ended=4))
    complete = [s for s in sequences if s.complete]
    assert len(complete) == 4 and all(s.frames.shape == (54, FRAME_SIZE, FRAME_SIZE) for s in complete)
    assert 0 < len(sequences) - len(complete) <= 4  # sequences cut short are kept for the heads, at most as many


def test_recording_the_real_game_is_reproducible():
    def record(seed):
        game = make_game(BLOCKWORLD, seed=seed, frame_size=FRAME_SIZE)
        rng = np.random.default_rng(seed)
        return list(record_sequences(game, lambda obs: int(rng.integers(5)), 3, 15, seed=seed))

    first, again, other = record(4), record(4), record(5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.actions, b.actions)
    assert not all(np.array_equal(a.frames, b.frames) for a, b in zip(first, other))


@pytest.fixture(scope="module")
def simulator_and_data():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 10, FRAME_SIZE, FRAME_SIZE), dtype=np.uint8)
    actions = rng.integers(0, 5, (3, 9)).astype(np.int32)
    simulator = small_simulator()
    simulator.set_mean_image(frames[:, 0])
    return simulator, frames, actions


def test_prediction_is_open_loop_after_the_warmup(simulator_and_data):
    simulator, frames, actions = simulator_and_data
    predictions = predict_rollouts(simulator, frames, actions, warmup=4)
    assert predictions.shape == (3, 6, FRAME_SIZE, FRAME_SIZE) and predictions.dtype == np.uint8

    # step 1 by hand: warm up on frames 0..2, then predict from frame 3 and action 3
    with chainer.no_backprop_mode(), chainer.using_config("train", False):
        state = simulator.initial_state(3)
        for t in range(3):
            _, state = simulator.transition(
                simulator.encode(simulator.normalize(frames[:, t])[:, None]), actions[:, t], state
            )
        first, _ = simulator.predict(simulator.normalize(frames[:, 3])[:, None], actions[:, 3], state)
    np.testing.assert_array_equal(predictions[:, 0], simulator.to_uint8(first.array[:, 0]))

    # real frames after the warm-up are never used
    blind = frames.copy()
    blind[:, 4:] = 0
    np.testing.assert_array_equal(predict_rollouts(simulator, blind, actions, warmup=4), predictions)

    # the action on step k changes the predictions from step k on only
    changed = actions.copy()
    changed[:, 3 + 3] = (changed[:, 3 + 3] + 1) % 5
    other = predict_rollouts(simulator, frames, changed, warmup=4)
    np.testing.assert_array_equal(other[:, :3], predictions[:, :3])
    assert np.any(other[:, 3] != predictions[:, 3])


def test_batched_prediction_equals_one_sequence_at_a_time(simulator_and_data):
    simulator, frames, actions = simulator_and_data
    together = predict_rollouts(simulator, frames, actions, warmup=3)
    for i in range(3):
        alone = predict_rollouts(simulator, frames[i : i + 1], actions[i : i + 1], warmup=3)
        assert np.abs(alone[0].astype(int) - together[i]).max() <= 1  # float rounding only


def test_warmup_must_leave_steps_to_predict(simulator_and_data):
    simulator, frames, actions = simulator_and_data
    with pytest.raises(ValueError, match="warmup"):
        predict_rollouts(simulator, frames, actions, warmup=10)


def test_evaluation_batches_give_the_same_errors(simulator_and_data):
    simulator, _, _ = simulator_and_data
    game = make_game(BLOCKWORLD, seed=3, frame_size=FRAME_SIZE)
    rng = np.random.default_rng(3)
    sequences = list(record_sequences(game, lambda obs: int(rng.integers(5)), 5, 9, seed=3))
    by_two = evaluate_simulator(simulator, sequences, warmup=3, batch_size=2)
    all_at_once = evaluate_simulator(simulator, sequences, warmup=3, batch_size=5)
    assert by_two.curves.n_sequences == 5 and by_two.curves.horizon == 6
    np.testing.assert_allclose(by_two.curves.mse["model"], all_at_once.curves.mse["model"], atol=1e-4)
    np.testing.assert_array_equal(by_two.curves.mse["repeat_last"], all_at_once.curves.mse["repeat_last"])
    np.testing.assert_array_equal(by_two.example_real, sequences[0].frames[3:])
    assert by_two.origins == [(s.episode, s.start_step) for s in sequences]


def test_the_progress_counts_the_sequences_cut_short_that_the_heads_are_measured_on(tmp_path):
    simulator = small_simulator(heads=True)
    game = make_game("BlockWorld-v1", seed=0, frame_size=FRAME_SIZE)
    rng = np.random.default_rng(0)
    sequences = list(record_sequences(game, lambda obs: int(rng.integers(5)), 4, 54, seed=0, keep_ended=4))
    simulator.set_mean_image(sequences[0].frames[:1])
    ended = sum(not s.complete for s in sequences)
    assert ended > 0
    with open(tmp_path / "bar", "w") as stream:
        progress = Progress(4 * 50, "evaluate", stream=stream)
        evaluate_simulator(simulator, iter(sequences), warmup=4, batch_size=3, progress=progress)
    assert progress.count == progress.total == (4 + ended) * 50  # the bar ends full, not beyond
