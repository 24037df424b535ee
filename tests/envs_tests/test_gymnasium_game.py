"""The simulated game under gymnasium: a seed repeats the episode, and gymnasium's own checker passes."""
import logging

import numpy as np
import pytest

from recurrent_sim.data.episode import Episode
from recurrent_sim.envs import make_game
from recurrent_sim.envs.gymnasium_game import GymnasiumSimulatedGame
from recurrent_sim.envs.simulated_game import SimulatedGame
from recurrent_sim.envs.synthetic import register_synthetic_envs
from recurrent_sim.envs.warmup_sources import DatasetWarmups, LiveWarmups

WARMUP = 4


@pytest.fixture(scope="module")
def simulator():
    """The shipped BlockWorld-v1 simulator (heads: rewards and episode ends)."""
    from recurrent_sim.pretrained import pretrained_path
    from recurrent_sim.training import load_checkpoint

    return load_checkpoint(pretrained_path("blockworld")).build_simulator()


def blockworld(simulator, seed=0):
    register_synthetic_envs()
    return make_game("BlockWorld-v1", seed=seed, frame_size=simulator.config.frame_shape[0])


def recorded_episodes(game, n, steps=30, seed=0):
    """``n`` episodes of random play, at most ``steps`` steps each."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n):
        game.reset()
        frames, actions, rewards, ends = [game.last_frame], [], [], []
        while len(actions) < steps and not (ends and ends[-1]):
            actions.append(int(rng.integers(game.action_space.n)))
            _, reward, done, _ = game.step(actions[-1])
            frames.append(game.last_frame)
            rewards.append(reward)
            ends.append(done)
        episodes.append(Episode(np.stack(frames), np.array(actions, np.int32), np.array(rewards, np.float32),
                                np.array(ends)))
    return episodes


@pytest.fixture(params=["live", "recorded"])
def source(request, simulator):
    if request.param == "live":
        return LiveWarmups(blockworld(simulator), WARMUP)
    return DatasetWarmups(recorded_episodes(blockworld(simulator, seed=5), 4), WARMUP)


def play(env, seed, actions):
    observation, _ = env.reset(seed=seed)
    rollout = [observation]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        rollout += [observation, reward, terminated, truncated, info["drift"]]
        if terminated or truncated:
            break
    return rollout


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_gymnasium_check_env_passes(simulator, source):
    from gymnasium.utils.env_checker import check_env

    check_env(GymnasiumSimulatedGame(SimulatedGame(simulator, warmup_source=source), max_episode_steps=50),
              skip_render_check=True)


def test_a_seed_repeats_the_episode_and_another_seed_does_not(simulator, source):
    env = GymnasiumSimulatedGame(SimulatedGame(simulator, warmup_source=source), max_episode_steps=20)
    actions = [1, 4, 4, 2, 0, 3, 3, 1]
    first = play(env, 7, actions)
    env.reset()  # an unseeded episode between
    play(env, 8, actions)
    assert same(play(env, 7, actions), first)
    assert not same(play(env, 123, actions), first)  # another warm-up (the draws of 123)
    env.reset(seed=7)
    after_seven = [env.reset()[0] for _ in range(3)]  # unseeded resets go on from the seed
    env.reset(seed=7)
    assert same([env.reset()[0] for _ in range(3)], after_seven)


def test_a_source_that_cannot_be_seeded_is_said_once(simulator, caplog):
    frames, actions = LiveWarmups(blockworld(simulator), WARMUP)(1)
    game = SimulatedGame(simulator, warmup_source=lambda n: (np.repeat(frames, n, 0), np.repeat(actions, n, 0)))
    env = GymnasiumSimulatedGame(game)
    with caplog.at_level(logging.WARNING):
        env.reset(seed=1)
        env.reset(seed=2)
    assert caplog.text.count("has no seed(seed): seeding this game does not repeat its warm-ups") == 1
