import json

import numpy as np
import pytest

from recurrent_sim.data.dataset_sampler import SequenceSampler, split_episodes, validation_batches
from recurrent_sim.data.episodes import DatasetError
from tests.helpers import make_episode


def test_split_is_by_whole_episodes_deterministic_and_skips_short_ones():
    counts = [30, 5, 30, 30, 30, 30, 30, 30, 30, 30, 30]  # episode 1 is too short for 10-frame sequences
    train, validation = split_episodes(counts, 10, 0.2, seed=4)
    assert (train, validation) == split_episodes(counts, 10, 0.2, seed=4)
    assert len(validation) == 2 and len(train) == 8
    assert 1 not in train + validation
    assert sorted(train + validation) == [0] + list(range(2, 11))
    other = [split_episodes(counts, 10, 0.2, seed=s)[1] for s in range(10)]
    assert len({tuple(v) for v in other}) > 1  # the seed matters
    assert split_episodes(counts, 10, 0.0, seed=0) == ([0] + list(range(2, 11)), [])
    assert len(split_episodes([30, 30], 10, 0.01, seed=0)[1]) == 1  # at least one held out
    assert len(split_episodes([30, 30], 10, 0.99, seed=0)[0]) == 1  # never all of them


def test_split_errors_name_the_sequence_length_and_what_to_do():
    with pytest.raises(DatasetError, match=r"dataset too small: .* = 36 consecutive frames .* longest episode has 20"):
        split_episodes([20, 12], 36, 0.1, seed=0)
    single = "at least 2 episodes of 10 frames or more, there is 1.*--validation-fraction 0"
    with pytest.raises(DatasetError, match=single):
        split_episodes([30, 4], 10, 0.1, seed=0)
    assert split_episodes([30, 4], 10, 0.0, seed=0) == ([0], [])


def test_a_pass_visits_every_window_once_and_windows_are_episode_slices():
    episodes = [make_episode(9, seed=0), make_episode(2, seed=1), make_episode(6, seed=2)]
    sampler = SequenceSampler(episodes, [0, 1, 2], sequence_length=4, seed=0)
    assert len(sampler) == (10 - 3) + 0 + (7 - 3)  # episode 1 (3 frames) holds no 4-frame window
    seen = []
    for _ in range(len(sampler)):
        batch = sampler.sample(1)
        frames = batch.frames[0]
        matches = [(e, batch.starts[0]) for e in (0, 2)
                   if len(episodes[e].frames) >= batch.starts[0] + 4
                   and np.array_equal(episodes[e].frames[batch.starts[0]:batch.starts[0] + 4], frames)]
        assert len(matches) == 1
        e, start = matches[0]
        np.testing.assert_array_equal(batch.actions[0], episodes[e].actions[start:start + 3])
        np.testing.assert_array_equal(batch.rewards[0], episodes[e].rewards[start:start + 3])
        seen.append(matches[0])
    assert len(set(seen)) == len(sampler)
    assert sampler.epoch == 0
    batch = sampler.sample(3)
    assert batch.frames.shape == (3, 4, 32, 32) and batch.actions.dtype == np.int32
    assert sampler.epoch == 1 and sampler.cursor == 3


def test_sampler_state_resumes_the_same_batches_across_passes():
    episodes = [make_episode(8, seed=i) for i in range(3)]
    reference = SequenceSampler(episodes, [0, 1, 2], 5, seed=[3, 1])
    expected = [reference.sample(4).frames for _ in range(12)]  # 48 draws over 15-window passes

    sampler = SequenceSampler(episodes, [0, 1, 2], 5, seed=[3, 1])
    got = [sampler.sample(4).frames for _ in range(5)]
    state = json.loads(json.dumps(sampler.state_dict()))  # as stored in a checkpoint
    resumed = SequenceSampler(episodes, [0, 1, 2], 5, seed=[99])  # the seed is overridden by the state
    resumed.load_state_dict(state)
    got += [resumed.sample(4).frames for _ in range(7)]
    for a, b in zip(expected, got):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sampler state is for 15 windows, this sampler has 5"):
        SequenceSampler(episodes, [0], 5, seed=0).load_state_dict(state)


def test_validation_batches_are_fixed_and_spread():
    episodes = [make_episode(30, seed=i) for i in range(4)]
    batches = validation_batches(episodes, [1, 3], 6, max_sequences=10, batch_size=4)
    again = validation_batches(episodes, [1, 3], 6, max_sequences=10, batch_size=4)
    assert [len(b.frames) for b in batches] == [4, 4, 2]
    for a, b in zip(batches, again):
        np.testing.assert_array_equal(a.frames, b.frames)
    starts = np.concatenate([b.starts for b in batches])
    assert starts[0] == 0 and starts[-1] == 25  # first and last windows of the two episodes
    allowed = {episodes[i].frames[s:s + 6].tobytes() for i in (1, 3) for s in range(26)}
    assert all(seq.tobytes() in allowed for b in batches for seq in b.frames)
    assert validation_batches(episodes, [], 6, 10, 4) == []
    assert sum(len(b.frames) for b in validation_batches(episodes, [0], 6, 1000, 7)) == 26
