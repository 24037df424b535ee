"""One sample buffer fed by several games: no sequence joins two games, all games are sampled."""
import numpy as np
import pytest

from recurrent_sim.data.game_buffers import MultiGameBuffer


def fill(buffer, game, steps, value):
    for t in range(steps):
        buffer.append(np.full((4, 4), value, np.uint8), t % 3, 0.5, False, game=game)


def test_interleaved_games_keep_their_own_sequences():
    buffer = MultiGameBuffer(40, (4, 4), n_games=2, seed=0)
    for t in range(20):  # the games' transitions arrive interleaved
        fill(buffer, 0, 1, 10)
        fill(buffer, 1, 1, 200)
    assert len(buffer) == 40 and buffer.capacity == 40 and buffer.total_appended == 40
    assert buffer.num_valid_starts(5) == 2 * 16
    batch = buffer.sample(64, 5)
    assert batch.frames.shape == (64, 5, 4, 4)
    firsts = batch.frames[:, :, 0, 0]
    assert set(np.unique(firsts)) == {10, 200}
    assert all(len(set(row)) == 1 for row in firsts.tolist())  # never two games in one sequence
    assert 10 < (firsts[:, 0] == 10).sum() < 54  # both games are drawn


def test_a_game_without_sequences_yet_is_not_drawn_and_mean_frames_come_from_all():
    buffer = MultiGameBuffer(30, (4, 4), n_games=3, seed=1)
    fill(buffer, 2, 8, 50)
    fill(buffer, 0, 2, 9)
    assert buffer.can_sample(4) and not buffer.games[0].can_sample(4)
    assert set(np.unique(buffer.sample(8, 4).frames)) == {50}
    assert sorted(np.unique(buffer.first_frames(6)).tolist()) == [9, 50]
    with pytest.raises(ValueError, match="no valid sequence"):
        MultiGameBuffer(30, (4, 4), n_games=3).sample(2, 4)
