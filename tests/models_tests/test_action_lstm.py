"""The action-conditioned LSTM: its step on arrays (no backprop) against the graph-building step."""
import chainer
import chainer.functions as F
import numpy as np
import pytest

from recurrent_sim.models import action_lstm
from recurrent_sim.models.action_lstm import ActionLSTM, lstm_arrays
from recurrent_sim.utils import cpu_pool


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("in_size", [None, 6])
def test_step_without_backprop_gives_the_values_of_the_graph_step(in_size, threads, monkeypatch):
    # With two threads the step is split over them (by columns of its products).
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", str(threads))
    monkeypatch.setattr(cpu_pool, "usable_cpus", lambda: 2)
    monkeypatch.setattr(action_lstm, "SPLIT_MIN_SIZE", 1)
    calls = []
    monkeypatch.setattr(action_lstm, "map_chunks", lambda f, n: calls.append(n) or cpu_pool.map_chunks(f, n))
    np.random.seed(0)
    lstm = ActionLSTM(in_size, 8, 3, 16)
    rng = np.random.RandomState(1)
    state = tuple(rng.randn(5, 8).astype(np.float32) for _ in range(2))
    encoding = None if in_size is None else rng.randn(5, in_size).astype(np.float32)
    actions = np.array([0, 2, 1, 2, 0], np.int32)

    h_graph, (c_graph, _) = lstm(encoding, actions, state)
    assert h_graph.creator is not None
    with chainer.no_backprop_mode():
        h_fast, (c_fast, h_state) = lstm(encoding, actions, state)
    assert h_fast.creator is None and h_state is h_fast
    np.testing.assert_allclose(h_fast.array, h_graph.array, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(c_fast.array, c_graph.array, rtol=1e-6, atol=1e-7)
    assert h_fast.dtype == np.float32
    assert calls == [1, 1] if threads == 1 else calls == [4, 4]


def test_lstm_arrays_is_chainers_lstm():
    rng = np.random.RandomState(2)
    c, gates = rng.randn(4, 7).astype(np.float32), rng.randn(4, 28).astype(np.float32)
    expected_c, expected_h = F.lstm(c, gates)
    got_c, got_h = lstm_arrays(c, gates.copy())
    np.testing.assert_array_equal(got_c, expected_c.array)
    np.testing.assert_array_equal(got_h, expected_h.array)
