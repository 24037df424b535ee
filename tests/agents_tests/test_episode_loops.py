"""Play loops, reward filter, statistics and what a demo writes on disk."""
import os

import imageio
import numpy as np
import pytest

from recurrent_sim.agents import make_acting_agent, make_learning_agent
from recurrent_sim.agents.episode_loops import DemoRecorder, RewardFilter, run_episodes, saliency_panels, summarize, train
from recurrent_sim.envs.demo_env import SimulatorDemoEnv


def test_reward_filter_keeps_negative_rewards_by_default():
    assert RewardFilter()(-3.0) == -3.0
    assert RewardFilter(scale=0.5)(-3.0) == -1.5
    assert RewardFilter(min_reward=0.0)(-3.0) == 0.0
    assert RewardFilter(min_reward=-500, scale=2.0)(-3.0) == -6.0


def test_summarize():
    assert summarize([1, 2, 6]) == {"n_runs": 3, "mean": 3.0, "median": 2.0, "stdev": pytest.approx(2.6457513)}
    assert summarize([4]) == {"n_runs": 1, "mean": 4.0, "median": 4.0, "stdev": 0.0}


def test_saliency_panels_scale_the_map_to_its_peak():
    frame = np.full((8, 8), 50, dtype=np.uint8)
    grad = np.zeros((2, 8, 8), dtype=np.float32)
    grad[0, 1, 1], grad[1, 1, 1], grad[1, 5, 5] = 1.0, -3.0, 2.0
    seen, heat, overlay = saliency_panels(frame, grad)
    assert seen.shape == heat.shape == overlay.shape == (8, 8, 3)
    np.testing.assert_array_equal(seen[..., 0], frame)
    # the peak (|1| + |-3| = 4) is red in the JET colour map, zero is blue
    assert tuple(heat[1, 1]) == (128, 0, 0)
    assert tuple(heat[0, 0]) == (0, 0, 128)
    assert 0 < heat[5, 5, 0] < 255 and heat[5, 5, 1] > 0  # half the peak: in between


class RecordingTrainer:
    """Stands in for SimulatorTrainer: keeps what observe() was given."""

    def __init__(self):
        self.transitions = []

    def observe(self, frame, action, reward, episode_end):
        self.transitions.append((np.array(frame), action, reward, episode_end))

    def progress_fields(self):
        return {"sim_updates": 0}


def test_train_plays_the_steps_and_learns(game):
    trainer = RecordingTrainer()
    agent = make_learning_agent(5, (4, 32, 32), t_max=5)
    before = agent.shared_model.fc.W.array.copy()
    evaluations = []
    scores = train(game, agent, 250, evaluate=evaluations.append, eval_interval=100, recorders=[trainer])
    assert len(trainer.transitions) == 250
    assert len(scores) == 2  # BlockWorld episodes last 100 steps
    assert evaluations == [100, 200]
    assert not np.allclose(agent.shared_model.fc.W.array, before)


def test_demo_episodes_write_side_by_side_frames_gif_and_saliency(tmp_path, game, tiny_simulator):
    env = SimulatorDemoEnv(game, simulator=tiny_simulator, warmup_steps=5, chain_period=10)
    agent = make_acting_agent(5, (4, 32, 32))
    recorder = DemoRecorder(str(tmp_path), saliency_interval=25, gif_frames=40, raw_frames=True, scale=2)
    scores = run_episodes(env, agent, 2, recorder=recorder)
    assert len(scores) == 2
    assert recorder.written == {"b2w": 200, "gif": 2, "saliency": 8, "render": 200}
    episode = tmp_path / "b2w" / "episode_002"
    assert len(os.listdir(episode)) == 100
    image = imageio.v2.imread(episode / "step_00050.png")
    assert image.shape[1] == 2 * 32 * 2 + 2  # two 32-pixel panels at scale 2 and the separator
    gif = imageio.v2.mimread(tmp_path / "b2w" / "episode_001.gif")
    assert len(gif) == 40
    assert sorted(os.listdir(tmp_path / "saliency" / "episode_001")) == [
        "step_00000.png", "step_00025.png", "step_00050.png", "step_00075.png"]
    assert imageio.v2.imread(tmp_path / "render" / "episode_001" / "step_00000.png").shape == (32, 32, 3)


def test_the_play_loop_hands_every_real_transition_to_its_recorders(game):
    """The frame the action was taken on, the action, the game's reward and the episode end, in order."""
    from recurrent_sim.envs import PreprocessedEnv, make_env

    class ReplayAgent:  # the same fixed actions as the twin game below
        def __init__(self, actions):
            self.actions = iter(actions)

        def act_and_train(self, obs, reward):
            return next(self.actions)

        def stop_episode_and_train(self, obs, reward, done=False):
            pass

    actions = [4, 4, 1, 0, 2] * 44  # 220 steps: crosses the 100-step episode end twice
    first, second = RecordingTrainer(), RecordingTrainer()
    scores = train(game, ReplayAgent(actions), len(actions), recorders=[first, second])
    twin = PreprocessedEnv(make_env("BlockWorld-v0", seed=0), size=(32, 32), n_frames=4)
    twin.reset()
    for t, action in enumerate(actions):
        before = twin.last_frame
        _, reward, done, _ = twin.step(action)
        frame, recorded_action, recorded_reward, recorded_end = first.transitions[t]
        np.testing.assert_array_equal(frame, before)
        assert (recorded_action, recorded_reward, recorded_end) == (action, reward, done)
        if done:
            twin.reset()
    assert len(second.transitions) == len(actions) and len(scores) == 2
