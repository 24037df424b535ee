"""A play session: the simulated game and the real game on the same actions, divergence, branches, GIF."""
import imageio
import numpy as np
import pytest

from recurrent_sim.agents import make_acting_agent
from recurrent_sim.envs import make_game
from recurrent_sim.envs.simulated_game import SimulatedGame
from recurrent_sim.play import PlaySession, RecordedGame, divergence
from recurrent_sim.training import load_checkpoint

from tests.helpers import BLOCKWORLD

WARMUP = 4


@pytest.fixture
def session(untrained_checkpoint):
    simulator = load_checkpoint(untrained_checkpoint).build_simulator()
    real = RecordedGame(make_game(BLOCKWORLD, seed=0, frame_size=32), seed=3)
    agent = make_acting_agent(5, obs_shape=(4, 32, 32), seed=0)
    session = PlaySession(SimulatedGame(simulator, n_frames=4), real, agent, warmup=WARMUP)
    session.new_episode()
    return session


def test_divergence_is_the_mse_of_pixels_in_0_1():
    a, b = np.zeros((2, 2), np.uint8), np.full((2, 2), 255, np.uint8)
    assert divergence(a, b) == 1.0 and divergence(a, a) == 0.0
    assert divergence(a, np.array([[51, 0], [0, 0]], np.uint8)) == pytest.approx(0.2 ** 2 / 4)


def test_a_new_episode_starts_on_real_frames(session):
    view = session.view()
    assert view["step"] == WARMUP - 1 == view["branch_step"] and view["divergence"] == 0.0
    assert np.array_equal(view["sim"], view["real"]) and view["divergences"] == [0.0]
    assert session.observation.shape == (4, 32, 32)


def test_steps_record_the_divergence_of_both_games(session):
    for action in (1, 2, 3):
        session.step(action)
    view = session.view()
    assert view["step"] == WARMUP + 2 and session.real.actions[-3:] == [1, 2, 3]
    assert view["divergence"] == pytest.approx(divergence(view["sim"], view["real"]))
    assert len(view["divergences"]) == 4 and all(d > 0 for d in view["divergences"][1:])
    assert view["drift"] is None  # no heads on this simulator


def test_a_branch_restarts_the_simulator_on_the_real_frame(session):
    start = session.real.last_step
    session.step(1)
    up = session.view()["sim"].copy()
    session.step(1)
    session.branch(start)
    view = session.view()
    assert view["step"] == start and view["divergence"] == 0.0 and np.array_equal(view["sim"], view["real"])
    session.step(1)
    assert np.array_equal(session.view()["sim"], up)  # same warm-up, same action: same prediction
    session.branch(start)
    session.step(2)
    assert not np.array_equal(session.view()["sim"], up)  # another action: another frame
    assert session.real.actions[-1] == 2 and session.real.last_step == start + 1


def test_the_agent_chooses_valid_actions(session):
    for _ in range(3):
        session.step(session.agent_action())
    assert all(0 <= a < 5 for a in session.real.actions)


def test_the_episode_end_stops_both_games(session):
    while not session.over:
        session.step(0)
    assert session.real.last_step == 100 and session.view()["real_done"]
    with pytest.raises(RuntimeError, match="episode is over"):
        session.step(0)
    session.branch(50)
    assert not session.over
    session.new_episode()
    assert session.real.episode == 1 and session.real.last_step == WARMUP - 1


def test_save_gif_writes_real_and_simulated_side_by_side(session, tmp_path):
    for action in (1, 4, 4):
        session.step(action)
    path = session.save_gif(tmp_path / "gifs", fps=10, scale=2)
    frames = imageio.mimread(path)
    assert len(frames) == session.real.last_step + 1
    assert frames[0].shape[1] == 2 * (32 * 2) + 2  # two scaled panels and the gap


def test_the_scores_sum_the_episode_rewards(session):
    start = session.real.last_step
    for action in (1, 2, 3, 4, 0, 0):
        session.step(action)
    view = session.view()
    assert view["real_score"] == sum(session.real.rewards) and view["sim_score"] == 0.0  # no heads: no reward
    session.real.rewards[:] = [1.0] * len(session.real.rewards)  # as if every step had touched the ball
    session.branch(start + 2)
    view = session.view()
    assert view["real_score"] == start + 2 == view["sim_score"]  # before the branch the simulator shows the real game
    assert view["sim_reward"] == 0.0 == view["real_reward"]


def test_an_episode_that_ends_during_the_warm_up_is_skipped(untrained_checkpoint, monkeypatch, caplog):
    import recurrent_sim.play.session as session_module

    simulator = load_checkpoint(untrained_checkpoint).build_simulator()
    real = RecordedGame(make_game("BlockWorld-v1", seed=0, frame_size=32), seed=0)  # episode 0 ends within 9 steps
    agent = make_acting_agent(5, obs_shape=(4, 32, 32), seed=0)
    session = PlaySession(SimulatedGame(simulator, n_frames=4), real, agent, warmup=10)
    caplog.set_level("INFO")
    session.new_episode()
    assert session.real.episode == 1 and not session.over and session.real.last_step == 9
    assert "episode 0 ended within the 9 warm-up steps: skipped" in caplog.text
    monkeypatch.setattr(session_module, "MAX_SKIPPED_EPISODES", 2)
    session = PlaySession(SimulatedGame(simulator, n_frames=4), real, agent, warmup=150)  # longer than any episode
    session.new_episode()
    assert session.over and "2 episodes in a row ended within the 149 warm-up steps" in caplog.text
