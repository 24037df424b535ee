"""The prediction-independent simulator's loss: batched against step by step, and what it runs."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import IndependentSimulator, SimulatorConfig, build_simulator
from recurrent_sim.training import SequenceSchedule, get_loss
from recurrent_sim.training.schemes import StepPlan
from recurrent_sim.training.independent_loss import independent_loss, reference_independent_loss
from recurrent_sim.utils.errors import UserError

BATCH, SIZE = 2, 32


def make_simulator(seed=0):
    np.random.seed(seed)
    config = SimulatorConfig(architecture="independent", frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8,
                             encoding_size=16)
    simulator = build_simulator(config)
    rng = np.random.RandomState(seed)
    simulator.set_mean_image(rng.randint(0, 256, (10, SIZE, SIZE)).astype(np.uint8))
    return simulator


def make_batch(length, seed=1):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (BATCH, length, SIZE, SIZE)).astype(np.uint8)
    actions = rng.randint(0, 3, (BATCH, length - 1)).astype(np.int32)
    return frames, actions


def loss_and_gradients(loss_function, simulator, frames, actions, split):
    result = loss_function(simulator, frames, actions, split)
    simulator.cleargrads()
    result.loss.backward()
    grads = {name: None if p.grad is None else p.grad.copy() for name, p in simulator.namedparams()}
    return result, grads


SPLITS = [
    SequenceSchedule(3, 2, 2),
    SequenceSchedule(2, 0, 4),   # the paper's use: warm-up, then predicted steps only
    SequenceSchedule(0, 3, 2),
    SequenceSchedule(2, 3, 0),
    StepPlan(2, "OPPOPP", 3),        # alternating runs, truncated BPTT in chunks of 3
    StepPlan(1, "PPPP", 2),
]


@pytest.mark.parametrize("split", SPLITS, ids=str)
def test_batched_loss_equals_step_by_step_reference(split):
    simulator = make_simulator()
    frames, actions = make_batch(split.sequence_length)
    expected, expected_grads = loss_and_gradients(reference_independent_loss, simulator, frames, actions, split)
    result, grads = loss_and_gradients(independent_loss, simulator, frames, actions, split)
    assert float(result.loss.array) == pytest.approx(float(expected.loss.array), rel=1e-5)
    assert result.obs_mse == pytest.approx(expected.obs_mse, rel=1e-5)
    assert result.pred_mse == pytest.approx(expected.pred_mse, rel=1e-5)
    pattern = split.plan(0).pattern if isinstance(split, SequenceSchedule) else split.pattern
    assert (result.obs_mse > 0) == ("O" in pattern) and (result.pred_mse > 0) == ("P" in pattern)
    # The action-only LSTM learns exactly when there are predicted steps, the
    # frame-conditioned one when there are observed steps.
    assert (expected_grads["/action_lstm/factor_to_gates/W"] is not None) == ("P" in pattern)
    assert (expected_grads["/transition_lstm/encoding_to_gates/W"] is not None) == ("O" in pattern)
    for name, grad in expected_grads.items():
        if grad is None:
            assert grads[name] is None or not np.any(grads[name]), name
            continue
        scale = np.abs(grad).max()
        np.testing.assert_allclose(grads[name], grad, rtol=0, atol=1e-5 * scale, err_msg=name)


def test_predicted_steps_encode_no_frame(monkeypatch):
    # Encoder inputs: warm-up and observed frames only; the decoder only
    # for the trained steps' outputs (one call per run of equal letters).
    schedule = SequenceSchedule(3, 2, 5)
    simulator = make_simulator()
    frames, actions = make_batch(schedule.sequence_length)
    encoded, decoded = [], []
    encode, decode = simulator.encode, simulator.decode
    monkeypatch.setattr(simulator, "encode", lambda x: encoded.append(len(x)) or encode(x))
    monkeypatch.setattr(simulator, "decode", lambda h: decoded.append(len(h)) or decode(h))
    independent_loss(simulator, frames, actions, schedule)
    assert sum(encoded) == BATCH * (3 + 2)
    assert decoded == [BATCH * 2, BATCH * 5]


def test_loss_depends_on_no_frame_fed_during_predicted_steps():
    # Predicted steps use actions alone: frames after the observed ones are
    # only targets, so changing one changes the loss only through its own error.
    schedule = SequenceSchedule(2, 1, 4)
    simulator = make_simulator()
    frames, actions = make_batch(schedule.sequence_length)
    with chainer.no_backprop_mode():
        base = independent_loss(simulator, frames, actions, schedule)
        changed = frames.copy()
        changed[:, 4] = 255 - changed[:, 4]  # the target of step 3, otherwise unused
        other = independent_loss(simulator, changed, actions, schedule)
    assert other.obs_mse == pytest.approx(base.obs_mse)
    assert other.pred_mse != pytest.approx(base.pred_mse)


def test_registered_and_refuses_a_prediction_dependent_architecture():
    entry = get_loss("independent_mse")
    assert entry.metric_names == ("error", "obs_mse", "pred_mse")
    schedule = SequenceSchedule(1, 1, 1)
    simulator = make_simulator()
    assert isinstance(simulator, IndependentSimulator)
    frames, actions = make_batch(schedule.sequence_length)
    from recurrent_sim.data import SequenceBatch

    loss, metrics = entry.function(schedule)(simulator, SequenceBatch(frames, actions, None, None))
    assert metrics["error"] == pytest.approx(float(loss.array))
    paper = build_simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=16))
    with pytest.raises(UserError, match="needs a prediction-independent architecture"):
        independent_loss(paper, frames, actions, schedule)
