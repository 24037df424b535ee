"""The batched training loss against the plain step-by-step loop."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import Simulator, SimulatorConfig, fast_conv
from recurrent_sim.training import SequenceSchedule, sequence_loss
from recurrent_sim.training.reference_loss import reference_sequence_loss

BATCH = 3


def make_simulator(frame_size=32, seed=0):
    np.random.seed(seed)
    config = SimulatorConfig(frame_shape=(frame_size, frame_size), n_actions=3, hidden_size=8, encoding_size=16)
    simulator = Simulator(config)
    rng = np.random.RandomState(seed)
    simulator.set_mean_image(rng.randint(0, 256, (10, frame_size, frame_size)).astype(np.uint8))
    return simulator


def make_batch(schedule, frame_size=32, seed=1):
    rng = np.random.RandomState(seed)
    length = schedule.sequence_length
    frames = rng.randint(0, 256, (BATCH, length, frame_size, frame_size)).astype(np.uint8)
    actions = rng.randint(0, 3, (BATCH, length - 1)).astype(np.int32)
    return frames, actions


def loss_and_gradients(loss_function, simulator, frames, actions, schedule, fast=True):
    with chainer.using_config(fast_conv.CONFIG_KEY, fast):
        result = loss_function(simulator, frames, actions, schedule)
        simulator.cleargrads()
        result.loss.backward()
    grads = {name: param.grad.copy() for name, param in simulator.namedparams()}
    return result, grads


def assert_same(result, grads, expected, expected_grads, rtol):
    assert float(result.loss.array) == pytest.approx(float(expected.loss.array), rel=rtol)
    assert result.obs_mse == pytest.approx(expected.obs_mse, rel=rtol)
    assert result.pred_mse == pytest.approx(expected.pred_mse, rel=rtol)
    assert set(grads) == set(expected_grads)
    for name, grad in expected_grads.items():
        scale = np.abs(grad).max()
        assert scale > 0, f"{name} got no gradient"
        np.testing.assert_allclose(grads[name], grad, rtol=0, atol=rtol * scale, err_msg=name)


SCHEDULES = [(3, 2, 2), (0, 2, 3), (2, 0, 3), (2, 3, 0), (1, 1, 1)]


@pytest.mark.parametrize("split", SCHEDULES)
def test_sequence_loss_equals_reference(split):
    schedule = SequenceSchedule(*split)
    simulator = make_simulator()
    frames, actions = make_batch(schedule)
    expected, expected_grads = loss_and_gradients(reference_sequence_loss, simulator, frames, actions, schedule)
    result, grads = loss_and_gradients(sequence_loss, simulator, frames, actions, schedule)
    assert_same(result, grads, expected, expected_grads, rtol=1e-4)
    assert (result.obs_mse > 0) == (schedule.obs_dep > 0)
    assert (result.pred_mse > 0) == (schedule.pred_dep > 0)


def test_fast_loss_equals_reference_on_chainer_convolutions():
    # The whole fast path (batched loss, channels-last convolutions) against
    # the plain loop on Chainer's own convolutions, at the real frame size.
    schedule = SequenceSchedule(2, 2, 2)
    simulator = make_simulator(frame_size=84)
    frames, actions = make_batch(schedule, frame_size=84)
    expected, expected_grads = loss_and_gradients(
        reference_sequence_loss, simulator, frames, actions, schedule, fast=False
    )
    result, grads = loss_and_gradients(sequence_loss, simulator, frames, actions, schedule, fast=True)
    # Different summation orders over 84x84 frames through 8 layers and the
    # LSTM leave float32 noise in single elements: compare each gradient as
    # a whole (the layers themselves agree to 1e-10 in float64, test_fast_conv).
    assert float(result.loss.array) == pytest.approx(float(expected.loss.array), rel=1e-5)
    for name, grad in expected_grads.items():
        error = np.linalg.norm(grads[name] - grad) / np.linalg.norm(grad)
        assert error < 1e-3, f"{name}: relative error {error:.2e}"


def test_loss_depends_on_the_predicted_frames():
    # Guards the comparison above against two losses that ignore their input.
    schedule = SequenceSchedule(1, 1, 1)
    simulator = make_simulator()
    frames, actions = make_batch(schedule)
    changed = frames.copy()
    changed[:, -1] = 255 - changed[:, -1]
    for loss_function in (sequence_loss, reference_sequence_loss):
        before = loss_function(simulator, frames, actions, schedule)
        after = loss_function(simulator, changed, actions, schedule)
        assert after.pred_mse != pytest.approx(before.pred_mse, rel=1e-3)
        assert after.obs_mse == pytest.approx(before.obs_mse, rel=1e-6)


class Counter:
    """Wraps a simulator method and counts the frames it is called on."""

    def __init__(self, method):
        self.method, self.calls, self.frames = method, 0, 0

    def __call__(self, x, *args):
        self.calls += 1
        self.frames += len(x)
        return self.method(x, *args)


@pytest.mark.parametrize("split", [(4, 3, 2), (4, 0, 2)])
def test_fast_loss_skips_warm_up_decoding_and_batches_real_frames(split, monkeypatch):
    schedule = SequenceSchedule(*split)
    warm, obs, pred = split
    simulator = make_simulator()
    frames, actions = make_batch(schedule)
    encode, decode = Counter(simulator.encode), Counter(simulator.decode)
    monkeypatch.setattr(simulator, "encode", encode)
    monkeypatch.setattr(simulator, "decode", decode)
    sequence_loss(simulator, frames, actions, schedule)
    # Real frames: one call for the warm-up (without observed steps, its
    # last frame is a full step of its own), one for the observed steps;
    # then one call per prediction-dependent step.
    assert encode.calls == 1 + 1 + pred
    assert encode.frames == BATCH * (warm + obs + pred)
    # Decoded: the observed steps at once, the predicted steps one by one,
    # and (without observed steps) the warm-up's last frame only.
    assert decode.calls == (1 if obs else 1) + pred
    assert decode.frames == BATCH * (obs + pred + (obs == 0))


def test_reference_decodes_every_step(monkeypatch):
    schedule = SequenceSchedule(4, 3, 2)
    simulator = make_simulator()
    frames, actions = make_batch(schedule)
    decode = Counter(simulator.decode)
    monkeypatch.setattr(simulator, "decode", decode)
    reference_sequence_loss(simulator, frames, actions, schedule)
    assert decode.calls == 4 + 3 + 2
    assert decode.frames == BATCH * 9


def test_reference_refuses_wrong_length():
    schedule = SequenceSchedule(1, 1, 1)
    simulator = make_simulator()
    frames, actions = make_batch(SequenceSchedule(1, 1, 2))
    with pytest.raises(ValueError, match="sequences of 4 frames"):
        reference_sequence_loss(simulator, frames, actions, schedule)


@pytest.mark.parametrize("frame_size", [32, 84])
def test_channels_last_encoder_and_decoder_match_chainer(frame_size):
    simulator = make_simulator(frame_size=frame_size)
    rng = np.random.RandomState(5)
    frames = rng.randn(2, 1, frame_size, frame_size).astype(np.float32)
    hidden = rng.randn(2, 8).astype(np.float32)
    outputs = {}
    for fast in (True, False):
        with chainer.using_config(fast_conv.CONFIG_KEY, fast):
            simulator.cleargrads()
            code = simulator.encode(frames)
            decoded = simulator.decode(hidden)
            (chainer.functions.sum(code * code) + chainer.functions.sum(decoded * decoded)).backward()
        grads = {
            name: param.grad.copy() for name, param in simulator.namedparams() if param.grad is not None
        }
        outputs[fast] = (code.array, decoded.array, grads)
    assert outputs[True][1].shape == (2, 1, frame_size, frame_size)
    np.testing.assert_allclose(outputs[True][0], outputs[False][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(outputs[True][1], outputs[False][1], rtol=1e-4, atol=1e-5)
    assert len(outputs[False][2]) == 20  # encoder and decoder: 10 weights and biases each
    for name, grad in outputs[False][2].items():
        np.testing.assert_allclose(
            outputs[True][2][name], grad, rtol=0, atol=1e-4 * np.abs(grad).max(), err_msg=name
        )
