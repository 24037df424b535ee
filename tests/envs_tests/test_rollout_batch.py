"""N simulated games in one forward pass behave like N games stepped one by one."""
import numpy as np
import pytest

from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.models import Simulator, SimulatorConfig

N_GAMES, WARMUP, SIZE = 5, 4, 32


@pytest.fixture(scope="module")
def simulator():
    np.random.seed(0)
    sim = Simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=16))
    sim.set_mean_image(np.random.RandomState(0).randint(0, 256, (8, SIZE, SIZE)).astype(np.uint8))
    return sim


def games(seed=1, n=N_GAMES):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (n, WARMUP, SIZE, SIZE)).astype(np.uint8)
    actions = rng.randint(0, 3, (n, WARMUP - 1)).astype(np.int32)
    steps = rng.randint(0, 3, (6, n)).astype(np.int32)
    return frames, actions, steps


def play_alone(simulator, frames, actions, steps, game):
    env = RolloutBatch(simulator)
    env.reset(frames[game : game + 1], actions[game : game + 1])
    return np.stack([env.step(steps[t, game : game + 1])[0] for t in range(len(steps))])


def test_batched_games_equal_games_played_alone(simulator):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    first = env.reset(frames, actions)
    np.testing.assert_array_equal(first, frames[:, -1])
    together = np.stack([env.step(steps[t]) for t in range(len(steps))], axis=1)
    assert together.shape == (N_GAMES, len(steps), SIZE, SIZE) and together.dtype == np.uint8
    for game in range(N_GAMES):
        alone = play_alone(simulator, frames, actions, steps, game)
        # float32 sums over batches of different sizes: allow one grey level.
        assert np.abs(together[game].astype(int) - alone.astype(int)).max() <= 1
    # The games differ, so the comparison above compares something.
    assert not np.array_equal(together[0], together[1])


def test_reset_games_restarts_only_the_chosen_games(simulator):
    frames, actions, steps = games()
    other_frames, other_actions, _ = games(seed=2, n=2)
    env = RolloutBatch(simulator)
    env.reset(frames, actions)
    env.step(steps[0])
    env.step(steps[1])
    before = env.frames.copy()
    c_before = env.state[0].copy()
    current = env.reset_games([3, 1], other_frames, other_actions)
    np.testing.assert_array_equal(current[[3, 1]], other_frames[:, -1])
    for kept in (0, 2, 4):
        np.testing.assert_array_equal(current[kept], before[kept])
        np.testing.assert_array_equal(env.state[0][kept], c_before[kept])

    # A restarted game continues exactly like a fresh game from the same frames.
    fresh = RolloutBatch(simulator)
    fresh.reset(other_frames[:1], other_actions[:1])
    np.testing.assert_allclose(env.state[0][3], fresh.state[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(env.state[1][3], fresh.state[1][0], rtol=1e-5, atol=1e-6)


def test_set_frames_resynchronises(simulator):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    env.reset(frames, actions)
    env.step(steps[0])
    real = np.random.RandomState(3).randint(0, 256, (N_GAMES, SIZE, SIZE)).astype(np.uint8)
    env.set_frames(real)
    np.testing.assert_array_equal(env.frames, real)


def test_errors(simulator):
    frames, actions, steps = games()
    env = RolloutBatch(simulator)
    with pytest.raises(RuntimeError):
        env.step(steps[0])
    with pytest.raises(RuntimeError):
        env.reset_games([0], frames[:1], actions[:1])
    with pytest.raises(ValueError, match="actions"):
        env.reset(frames, actions[:, :1])
    env.reset(frames, actions)
    with pytest.raises(ValueError, match="5 actions"):
        env.step(steps[0, :2])
    with pytest.raises(ValueError, match="distinct"):
        env.reset_games([1, 1], frames[:2], actions[:2])
    with pytest.raises(ValueError, match="distinct"):
        env.reset_games([7], frames[:1], actions[:1])
    with pytest.raises(ValueError, match="rows of frames"):
        env.reset_games([0, 1], frames[:1], actions[:1])
