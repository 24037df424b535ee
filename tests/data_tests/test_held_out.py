"""Whole episodes held out of online training: which ones, how many, and the validation sequences."""
import numpy as np

from recurrent_sim.data.held_out import HeldOutEpisodes


def play(held_out, lengths, game=0, start=0):
    """Feed episodes of ``lengths`` transitions; returns, per episode, how many were held out."""
    held = []
    for n, length in enumerate(lengths):
        frames = np.full((length, 8, 8), start + n, dtype=np.uint8)  # each episode's frames show its number
        held.append(sum(held_out.take(frame, 0, 0.0, t == length - 1, game) for t, frame in enumerate(frames)))
    return held


def test_the_second_episode_then_about_one_in_ten_are_held_out_whole():
    held_out = HeldOutEpisodes(10000, (8, 8))
    held = play(held_out, [10] * 40)
    assert held[:2] == [0, 10] and set(held) == {0, 10}
    assert [n for n, h in enumerate(held) if h] == [1, 11, 21, 31]  # a tenth of the transitions, whole episodes
    assert len(held_out) == 40


def test_once_the_store_is_full_nothing_more_is_held_out():
    held_out = HeldOutEpisodes(100, (8, 8))  # a store of 10 transitions
    held = play(held_out, [6, 14, 30, 30, 30])
    assert held == [0, 10, 0, 0, 0]  # the second episode fills it: its last 4 transitions train
    batches = held_out.batches(64, 5, 2)
    frames = np.concatenate([batch.frames for batch in batches])
    assert len(frames) == 6 and all(len(batch.frames) <= 2 for batch in batches)
    assert (frames == 1).all()  # only episode 1, the held-out one
    assert held_out.batches(64, 11, 2) == []  # no held-out sequence of 11 frames


def test_each_game_holds_out_its_own_episodes_and_the_sequences_are_spread():
    held_out = HeldOutEpisodes(1000, (8, 8), n_games=2)
    assert play(held_out, [20, 20], game=0) == [0, 20]
    assert play(held_out, [30, 30], game=1, start=100) == [0, 30]
    batches = held_out.batches(8, 5, 8)
    [batch] = batches
    # 16 + 26 valid starts: 3 and 5 sequences, evenly spaced over each store
    assert list(batch.frames[:, 0, 0, 0]) == [1] * 3 + [101] * 5
    assert list(batch.starts) == [0, 8, 15, 0, 6, 12, 19, 25]
