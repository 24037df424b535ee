"""SimulatorDemoEnv: simulated frames with warm-up and re-synchronisation in a demo."""
import numpy as np
import pytest

from recurrent_sim.envs import PreprocessedEnv, make_env
from recurrent_sim.envs.rollout_batch import RolloutBatch
from recurrent_sim.envs.demo_env import SimulatorDemoEnv


def _twin_game():
    """A second BlockWorld with the same seed: replays the same real frames."""
    return PreprocessedEnv(make_env("BlockWorld-v0", seed=0), size=(32, 32), n_frames=4)


def test_demo_warms_up_then_shows_predictions_then_resyncs(game, tiny_simulator):
    warmup, period = 3, 4
    env = SimulatorDemoEnv(game, simulator=tiny_simulator, warmup_steps=warmup, chain_period=period)
    twin = _twin_game()
    obs = env.reset()
    real_frames, actions = [twin.reset()[-1]], []
    rng = np.random.RandomState(0)
    reference = RolloutBatch(tiny_simulator)
    for t in range(1, 16):
        action = int(rng.randint(5))
        actions.append(action)
        twin_obs, twin_reward, twin_done, _ = twin.step(action)
        real_frames.append(twin_obs[-1])
        obs, reward, done, info = env.step(action)
        assert (reward, done) == (twin_reward, twin_done)  # reward and end from the real game
        np.testing.assert_array_equal(info["real_frame"], real_frames[-1])
        assert info["episode_step"] == t
        if t <= warmup:
            assert not info["simulated"] and info["sim_error"] is None
            np.testing.assert_array_equal(obs[-1], real_frames[-1])
            if t == warmup:
                reference.reset(np.stack(real_frames)[None], np.array([actions], dtype=np.int32))
            continue
        predicted = reference.step([action])[0]
        predicted_step = t - warmup
        expected_error = np.mean((predicted.astype(np.float64) - real_frames[-1]) ** 2) / 255.0**2
        assert info["sim_error"] == pytest.approx(expected_error, rel=1e-5)
        if predicted_step % period == 0:
            assert info["resynced"] and not info["simulated"]
            np.testing.assert_array_equal(obs[-1], real_frames[-1])
            reference.set_frames(real_frames[-1][None])
        else:
            assert info["simulated"] and not info["resynced"]
            np.testing.assert_array_equal(obs[-1], predicted)
            assert not np.array_equal(obs[-1], real_frames[-1])
    # the stacked observation holds the last 4 frames shown, oldest first
    assert obs.shape == (4, 32, 32)


def test_demo_counters_restart_every_episode(game, tiny_simulator):
    env = SimulatorDemoEnv(game, simulator=tiny_simulator, warmup_steps=2, chain_period=5)
    env.reset()
    for _ in range(9):
        env.step(1)
    assert env.simulating and env.episode_step == 9 and env.steps_since_sync == 2 and len(env.episode_errors) == 7
    env.reset()
    assert not env.simulating and env.episode_step == 0 and env.steps_since_sync == 0
    assert env.mean_episode_error is None
    _, _, _, info = env.step(3)
    assert not info["simulated"] and info["episode_step"] == 1
    _, _, _, info = env.step(3)
    _, _, _, info = env.step(3)
    assert info["simulated"]


def test_demo_without_warmup_predicts_from_the_first_step(game, tiny_simulator):
    env = SimulatorDemoEnv(game, simulator=tiny_simulator, warmup_steps=0, chain_period=0)
    env.reset()
    for _ in range(30):
        _, _, _, info = env.step(2)
        assert info["simulated"] and not info["resynced"]


def test_bad_arguments(game, tiny_simulator):
    with pytest.raises(ValueError, match="warmup_steps"):
        SimulatorDemoEnv(game, simulator=tiny_simulator, warmup_steps=-1)
    big = PreprocessedEnv(make_env("BlockWorld-v0", seed=0), size=(40, 40))
    with pytest.raises(ValueError, match="frames"):
        SimulatorDemoEnv(big, simulator=tiny_simulator)
