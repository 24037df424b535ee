"""The real game of a play session: recorded, and rewound by replaying its episode."""
import numpy as np
import pytest

from recurrent_sim.envs import make_game
from recurrent_sim.play import RecordedGame

from tests.helpers import BLOCKWORLD


@pytest.fixture
def recorded():
    return RecordedGame(make_game(BLOCKWORLD, seed=0, frame_size=32), seed=7)


def play(recorded, actions):
    for action in actions:
        recorded.step(action)


def test_records_frames_actions_rewards(recorded):
    recorded.reset()
    play(recorded, [1, 2, 3, 4, 0])
    assert recorded.last_step == 5 and len(recorded.frames) == 6
    assert recorded.actions == [1, 2, 3, 4, 0] and len(recorded.rewards) == 5
    assert recorded.frames[0].shape == (32, 32) and recorded.frames[0].dtype == np.uint8
    assert recorded.action_names() == ["NOOP", "UP", "DOWN", "LEFT", "RIGHT"]


def test_rewind_replays_the_same_frames_and_forgets_the_rest(recorded):
    recorded.reset()
    play(recorded, [4] * 10)
    frames = [f.copy() for f in recorded.frames]
    recorded.rewind(4)
    assert recorded.last_step == 4 and recorded.actions == [4] * 4
    assert all(np.array_equal(a, b) for a, b in zip(recorded.frames, frames[:5]))
    assert np.array_equal(recorded.observation[-1], frames[4])
    recorded.step(1)  # a different future from step 4
    assert not np.array_equal(recorded.frames[5], frames[5])
    recorded.rewind(0)
    assert recorded.last_step == 0 and np.array_equal(recorded.frames[0], frames[0])


def test_each_episode_has_its_own_seed(recorded):
    recorded.reset()
    first = recorded.frames[0]
    recorded.reset()
    assert recorded.episode == 1 and not np.array_equal(first, recorded.frames[0])


def test_the_largest_seed_wraps_around_for_later_episodes():
    recorded = RecordedGame(make_game(BLOCKWORLD, seed=0, frame_size=32), seed=2**32 - 1)
    recorded.reset()
    recorded.reset()  # episode 1 is seeded with 0
    assert recorded.episode_seed == 0
    recorded.step(0)
    recorded.rewind(0)
    assert recorded.last_step == 0


def test_episode_end_and_rewind_out_of_range(recorded):
    recorded.reset()
    play(recorded, [0] * 100)  # BlockWorld episodes last 100 steps
    assert recorded.done
    with pytest.raises(RuntimeError, match="episode is over"):
        recorded.step(0)
    with pytest.raises(ValueError, match="steps 0 to 100"):
        recorded.rewind(101)
    recorded.rewind(99)
    assert not recorded.done
    recorded.step(0)
    assert recorded.done
