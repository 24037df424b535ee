"""SimulatedGame: a whole game inside a simulator, with no emulator after the warm-up."""
import numpy as np
import pytest

from recurrent_sim.envs import BatchedSimulatedGame, SimulatedGame
from recurrent_sim.models import SimulatorConfig, build_simulator

SIZE, N_ACTIONS, WARMUP = 32, 3, 5


def make_simulator(heads=True, seed=0):
    np.random.seed(seed)
    sim = build_simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=N_ACTIONS, hidden_size=8,
                                          encoding_size=16, heads=heads))
    sim.set_mean_image(np.random.RandomState(0).randint(0, 256, (8, SIZE, SIZE)).astype(np.uint8))
    return sim


def warmup(seed=1, n_actions=WARMUP - 1):
    rng = np.random.RandomState(seed)
    return (rng.randint(0, 256, (WARMUP, SIZE, SIZE)).astype(np.uint8),
            rng.randint(0, N_ACTIONS, n_actions).astype(np.int32))


def test_steps_with_no_emulator_and_gives_the_agents_frame_stack():
    game = SimulatedGame(make_simulator(), n_frames=4)
    frames, actions = warmup()
    observation = game.warm_up(frames, actions)
    np.testing.assert_array_equal(observation, frames[-4:])
    assert game.observation_space.contains(observation) and game.action_space.n == N_ACTIONS
    for t in range(6):
        previous = observation
        observation, reward, done, info = game.step(t % N_ACTIONS)
        assert observation.shape == (4, SIZE, SIZE) and observation.dtype == np.uint8
        np.testing.assert_array_equal(observation[:-1], previous[1:])
        np.testing.assert_array_equal(observation[-1], info["frame"])
        assert info["frame"].shape == (SIZE, SIZE) and info["frame"].dtype == np.uint8
        assert reward in (-1.0, 0.0, 1.0) and isinstance(done, bool)
        assert isinstance(info["drift"], float) and info["drift"] > 0
        assert info["episode_step"] == t + 1 and info["reward_probabilities"].shape == (3,)


def test_reward_and_episode_end_come_from_the_heads():
    sim = make_simulator()
    game = SimulatedGame(sim)
    game.warm_up(*warmup())
    heads = sim.state_heads
    heads.reward.b.array[:] = [0.0, 0.0, 50.0]  # positive reward class ranks first
    heads.done.b.array[:] = 50.0
    _, reward, done, info = game.step(1)
    assert reward == 1.0 and done and info["done_probability"] > 0.99
    heads.reward.b.array[:] = [50.0, 0.0, 0.0]
    heads.done.b.array[:] = -50.0
    _, reward, done, _ = game.step(1)
    assert reward == -1.0 and not done
    expected = SimulatedGame(sim, reward_mode="expected")
    expected.warm_up(*warmup())
    heads.reward.b.array[:] = [0.0, 0.0, 0.0]
    heads.reward.W.array[:] = 0.0  # all three classes equally likely: expected sign 0, then p(+) - p(-)
    assert expected.step(1)[1] == pytest.approx(0.0, abs=1e-6)
    heads.reward.b.array[:] = [np.log(0.2), np.log(0.3), np.log(0.5)]
    _, reward, _, info = expected.step(1)
    assert reward == pytest.approx(0.3, abs=1e-5)
    np.testing.assert_allclose(info["reward_probabilities"], [0.2, 0.3, 0.5], atol=1e-5)
    with pytest.raises(ValueError):
        SimulatedGame(sim, reward_mode="median")


def test_without_heads_reward_is_zero_drift_none_and_episodes_end_at_the_step_limit():
    game = SimulatedGame(make_simulator(heads=False), max_episode_steps=3)
    game.warm_up(*warmup())
    results = [game.step(0) for _ in range(3)]
    assert [r[1] for r in results] == [0.0, 0.0, 0.0] and [r[2] for r in results] == [False, False, True]
    assert results[0][3]["drift"] is None


def test_branching_with_get_and_set_state_replays_exactly():
    game = SimulatedGame(make_simulator())
    game.warm_up(*warmup())
    game.step(1)
    saved = game.get_state()
    first = [game.step(a) for a in (0, 2, 1, 1)]
    game.set_state(saved)
    other = [game.step(a) for a in (2, 2, 2, 2)]
    game.set_state(saved)  # the snapshot stays valid for a second branch
    again = [game.step(a) for a in (0, 2, 1, 1)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1] and a[3]["drift"] == pytest.approx(b[3]["drift"])
        assert a[3]["episode_step"] == b[3]["episode_step"]
    assert any(not np.array_equal(a[0][-1], b[0][-1]) for a, b in zip(first, other))


def test_warm_up_with_as_many_actions_as_frames_starts_from_the_predicted_frame():
    frames, actions = warmup(n_actions=WARMUP)
    game = SimulatedGame(make_simulator())
    observation = game.warm_up(frames, actions)
    reference = SimulatedGame(make_simulator())
    reference.warm_up(frames, actions[:-1])
    expected, _, _, _ = reference.step(int(actions[-1]))
    np.testing.assert_array_equal(observation, expected)


def test_reset_replays_the_warm_up_or_draws_from_the_source():
    frames, actions = warmup()
    game = SimulatedGame(make_simulator())
    first = game.warm_up(frames, actions)
    game.step(1)
    np.testing.assert_array_equal(game.reset(), first)
    assert game.episode_step == 0
    calls = []

    def source(n):
        calls.append(n)
        return frames[None].repeat(n, axis=0)[:, ::-1].copy(), actions[None].repeat(n, axis=0)

    drawn = SimulatedGame(make_simulator(), warmup_source=source).reset()
    np.testing.assert_array_equal(drawn, frames[::-1][-4:]) and calls == [1]


def test_bad_input_is_refused():
    game = SimulatedGame(make_simulator())
    with pytest.raises(RuntimeError):
        game.step(0)
    frames, actions = warmup()
    with pytest.raises(ValueError):
        game.warm_up(frames, actions[:-2])
    with pytest.raises(ValueError):
        game.warm_up(frames[:, :16], actions)
    game.warm_up(frames, actions)
    for action in (-1, N_ACTIONS, 1.5):
        with pytest.raises(ValueError):
            game.step(action)


def test_batched_games_equal_single_games_and_restart_alone():
    sim = make_simulator()
    rng = np.random.RandomState(3)
    frames = rng.randint(0, 256, (3, WARMUP, SIZE, SIZE)).astype(np.uint8)
    actions = rng.randint(0, N_ACTIONS, (3, WARMUP - 1))
    steps = rng.randint(0, N_ACTIONS, (4, 3))
    batched = BatchedSimulatedGame(sim)
    batched.warm_up(frames, actions)
    together = [batched.step(steps[t]) for t in range(4)]
    for g in range(3):
        single = SimulatedGame(sim)
        single.warm_up(frames[g], actions[g])
        for t in range(4):
            observation, reward, done, info = single.step(int(steps[t, g]))
            np.testing.assert_array_equal(observation, together[t][0][g])
            assert reward == together[t][1][g] and done == together[t][2][g]
            assert info["drift"] == pytest.approx(float(together[t][3]["drift"][g]), rel=1e-5)
    before = batched.stacks.copy()
    observations = batched.reset_games([1])
    np.testing.assert_array_equal(observations[1], frames[1, -4:])
    np.testing.assert_array_equal(observations[[0, 2]], before[[0, 2]])
    np.testing.assert_array_equal(batched.episode_steps, [4, 0, 4])


def test_gymnasium_adapter_follows_the_gymnasium_api():
    import gymnasium

    from recurrent_sim.envs.gymnasium_game import GymnasiumSimulatedGame

    frames, actions = warmup()
    env = GymnasiumSimulatedGame(SimulatedGame(make_simulator()), max_episode_steps=3)
    assert isinstance(env, gymnasium.Env) and isinstance(env.action_space, gymnasium.spaces.Discrete)
    observation, info = env.reset(seed=0, options={"frames": frames, "actions": actions})
    assert env.observation_space.contains(observation) and info["frame"].shape == (SIZE, SIZE)
    env.game.simulator.state_heads.done.b.array[:] = -50.0  # the head never ends the episode: truncation does
    results = [env.step(np.int64(1)) for _ in range(3)]
    for observation, reward, terminated, truncated, info in results:
        assert env.observation_space.contains(observation) and isinstance(reward, float)
        assert terminated is False and "drift" in info
    assert [r[3] for r in results] == [False, False, True]
    observation, _ = env.reset()  # replays the last warm-up
    np.testing.assert_array_equal(observation, frames[-4:])
    env.game.simulator.state_heads.done.b.array[:] = 50.0
    assert env.step(0)[2:4] == (True, False)
    with pytest.raises(ValueError, match="step limit"):
        GymnasiumSimulatedGame(SimulatedGame(make_simulator(), max_episode_steps=3))


def test_warm_ups_from_recorded_episodes_and_from_the_live_game():
    from recurrent_sim.data.episode import Episode
    from recurrent_sim.envs import make_game
    from recurrent_sim.envs.warmup_sources import DatasetWarmups, LiveWarmups
    from recurrent_sim.utils.errors import UserError

    steps = 6
    rng = np.random.RandomState(0)
    episode = Episode(rng.randint(0, 255, (steps + 1, SIZE, SIZE)).astype(np.uint8),
                      np.arange(steps, dtype=np.int32) % N_ACTIONS, np.zeros(steps, np.float32),
                      np.arange(steps) == steps - 1)
    source = DatasetWarmups([episode], warmup=3, seed=0)
    assert len(source.windows) == 4  # starts 0..3: a window may not end on the final frame
    frames, actions = source(5)
    assert frames.shape == (5, 3, SIZE, SIZE) and actions.shape == (5, 2)
    for row in range(5):
        start = int(np.flatnonzero((episode.frames == frames[row, 0]).all(axis=(1, 2)))[0])
        np.testing.assert_array_equal(frames[row], episode.frames[start : start + 3])
        np.testing.assert_array_equal(actions[row], episode.actions[start : start + 2])
    with pytest.raises(UserError):
        DatasetWarmups([episode], warmup=7)

    live = LiveWarmups(make_game("BlockWorld-v1", seed=0, frame_size=SIZE), warmup=4, seed=0)
    frames, actions = live(2)
    assert frames.shape == (2, 4, SIZE, SIZE) and actions.shape == (2, 3) and frames.dtype == np.uint8
    game = SimulatedGame(build_simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=5, hidden_size=8,
                                                         encoding_size=16, heads=True)), warmup_source=live)
    game.simulator.set_mean_image(frames[0])
    assert game.reset().shape == (4, SIZE, SIZE)
    assert game.step(4)[0].shape == (4, SIZE, SIZE)


def test_heads_that_read_the_frame_read_the_frame_the_game_shows():
    """With head_input 'frame' the reward probabilities the game reports are the heads' on the
    frame it shows (up to that frame's rounding to uint8)."""
    np.random.seed(0)
    sim = build_simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=N_ACTIONS, hidden_size=8,
                                          encoding_size=16, heads=True, head_input="frame"))
    sim.set_mean_image(np.random.RandomState(0).randint(0, 256, (8, SIZE, SIZE)).astype(np.uint8))
    game = SimulatedGame(sim)
    game.warm_up(*warmup())
    _, _, _, info = game.step(1)
    shown = sim.normalize(info["frame"][None])[:, None]
    expected = sim.heads(game.games.rollouts.state, shown)
    probabilities = np.exp(expected.reward_logits.array[0]) / np.exp(expected.reward_logits.array[0]).sum()
    np.testing.assert_allclose(info["reward_probabilities"], probabilities, atol=2e-3)
