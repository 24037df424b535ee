"""Guided-backprop ReLU: plain ReLU forward; backward masks negative inputs,
and also negative gradients when guided backpropagation is on."""
import chainer
import numpy as np
from chainer import gradient_check

from recurrent_sim.models.guided_relu import guided_backprop, guided_backprop_enabled, guided_relu


def _backward(x, gy, guided):
    x = chainer.Variable(x)
    y = guided_relu(x)
    y.grad = gy
    with guided_backprop(guided):
        y.backward()
    return y.array, x.grad


def test_forward_is_relu():
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(guided_relu(x).array, np.maximum(x, 0))


def test_plain_backward_masks_negative_inputs_only():
    x = np.array([-1.0, 2.0, 3.0, -4.0], dtype=np.float32)
    gy = np.array([5.0, -6.0, 7.0, 8.0], dtype=np.float32)
    _, gx = _backward(x, gy, guided=False)
    np.testing.assert_array_equal(gx, [0.0, -6.0, 7.0, 0.0])


def test_guided_backward_also_masks_negative_gradients():
    x = np.array([-1.0, 2.0, 3.0, -4.0], dtype=np.float32)
    gy = np.array([5.0, -6.0, 7.0, 8.0], dtype=np.float32)
    _, gx = _backward(x, gy, guided=True)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 7.0, 0.0])


def test_context_switches_back_off():
    assert not guided_backprop_enabled()
    with guided_backprop():
        assert guided_backprop_enabled()
    assert not guided_backprop_enabled()


def test_plain_gradient_matches_numerical():
    rng = np.random.RandomState(0)
    x = rng.uniform(0.1, 1.0, (3, 4)).astype(np.float64) * rng.choice([-1, 1], (3, 4))
    gy = rng.randn(3, 4)
    gradient_check.check_backward(guided_relu, x, gy, eps=1e-3, atol=1e-4, rtol=1e-4)
