"""BlockWorld-v1: rewards of all three signs and episode ends the frames explain."""
import numpy as np

from recurrent_sim.envs import make_env
from recurrent_sim.envs.synthetic import BlockWorldEnv


def test_the_ball_reaching_the_bottom_ends_the_episode_with_a_negative_reward():
    env = BlockWorldEnv(bottom_ends=True, ball=4)
    env.seed(0)
    env.reset()
    env._player = np.array([0, 0])  # far from where the ball lands
    env._ball, env._velocity = np.array([26, 20]), np.array([1, 1])
    rewards, dones = [], []
    for _ in range(5):
        _, reward, done, _ = env.step(0)
        rewards.append(reward)
        dones.append(done)
        if done:
            break
    assert rewards == [0.0, -1.0] and dones == [False, True]  # y 27, then 28 = 32 - 4: the bottom


def test_touching_the_ball_gives_plus_one_and_blocks_the_end():
    env = BlockWorldEnv(bottom_ends=True, ball=4)
    env.seed(0)
    env.reset()
    env._player = np.array([26, 18])
    env._ball, env._velocity = np.array([26, 20]), np.array([1, 1])
    _, reward, done, _ = env.step(0)
    assert reward == 1.0 and not done


def test_registered_variants():
    v0, v1 = make_env("BlockWorld-v0", seed=1), make_env("BlockWorld-v1", seed=1)
    assert not v0.unwrapped.bottom_ends and v0.unwrapped.ball == 2
    assert v1.unwrapped.bottom_ends and v1.unwrapped.ball == 4
    frame = v1.reset()
    assert frame.shape == (32, 32, 3) and (frame == (255, 255, 0)).all(axis=2).sum() == 16
    ends, negatives = 0, 0
    rng = np.random.default_rng(0)
    for _ in range(400):
        _, reward, done, _ = v1.step(int(rng.integers(5)))
        negatives += reward < 0
        if done:
            ends += 1
            v1.reset()
    assert ends >= 3 and negatives >= 3
