"""The split fully connected layer computes F.linear's values and gradients, over several threads."""
import chainer
from chainer import gradient_check
import chainer.functions as F
import chainer.links as L
from chainer.functions.connection.linear import LinearFunction
import numpy as np
import pytest

from recurrent_sim.models import split_linear as module
from recurrent_sim.models.split_linear import SplitLinear, split_linear
from recurrent_sim.utils import cpu_pool


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_values_and_gradients_match_f_linear(bias, parts):
    rng = np.random.RandomState(parts)
    x = rng.randn(5, 7).astype(np.float32)
    w = rng.randn(11, 7).astype(np.float32)
    b = rng.randn(11).astype(np.float32)
    gy = rng.randn(5, 11).astype(np.float32)
    results = []
    for make in (lambda xs: F.linear(*xs), lambda xs: SplitLinear(parts).apply(xs)[0]):
        inputs = [chainer.Variable(a.copy()) for a in ((x, w, b) if bias else (x, w))]
        y = make(inputs)
        y.grad = gy.copy()
        y.backward()
        results.append([y.array] + [v.grad for v in inputs])
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_gradients_of_gradients_match_f_linear():
    rng = np.random.RandomState(0)
    arrays = (rng.randn(3, 4), rng.randn(6, 4), rng.randn(6))
    for function in (lambda *xs: F.linear(*xs), lambda *xs: SplitLinear(2).apply(xs)[0]):
        gradient_check.check_double_backward(
            function, arrays, rng.randn(3, 6), (rng.randn(3, 4), rng.randn(6, 4), rng.randn(6)), atol=1e-4, rtol=1e-4
        )


def test_large_products_are_split_over_the_workers_small_ones_not(monkeypatch):
    calls = []
    monkeypatch.setattr(module, "worker_count", lambda: 2)
    monkeypatch.setattr(module, "map_chunks", lambda f, n: calls.append(n) or cpu_pool.map_chunks(f, n, workers=2))
    link = L.Linear(64, 128)
    x = chainer.Variable(np.random.RandomState(1).randn(8, 64).astype(np.float32))
    monkeypatch.setattr(module, "SPLIT_MIN_SIZE", 8 * 64 * 128)
    y = split_linear(link, x)
    F.sum(y * y).backward()
    assert calls == [2, 2, 2]  # forward, input gradient, parameter gradients
    np.testing.assert_allclose(y.array, link(x.array).array, rtol=1e-5, atol=1e-5)
    calls.clear()
    monkeypatch.setattr(module, "SPLIT_MIN_SIZE", 8 * 64 * 128 + 1)
    assert isinstance(split_linear(link, x).creator, SplitLinear)  # still a node of its own, one block
    assert calls == [1]
    calls.clear()
    monkeypatch.setattr(module, "SPLIT_MIN_SIZE", 1)
    with chainer.using_config("fast_cpu_conv", False):  # the plain reference stays plain
        assert isinstance(split_linear(link, x).creator, LinearFunction)
    assert calls == []
    monkeypatch.setattr(module, "worker_count", lambda: 1)
    split_linear(link, x)
    assert calls == [1]


def test_inputs_with_more_axes_are_flattened_as_the_link_does():
    link = L.Linear(2 * 3 * 4, 5)
    x = np.random.RandomState(2).randn(6, 2, 3, 4).astype(np.float32)
    y = split_linear(link, x)
    assert isinstance(y.creator, SplitLinear)
    np.testing.assert_allclose(y.array, link(x).array, rtol=1e-5, atol=1e-5)
