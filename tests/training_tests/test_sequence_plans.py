"""sequence_loss agrees with the step-by-step reference for every plan and architecture,
and each plan feeds real frames, predictions and gradients where it says."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import build_simulator
from recurrent_sim.models.registry import simulator_config
from recurrent_sim.training.reference_loss import reference_sequence_loss
from recurrent_sim.training.schemes import Scheme, StepPlan
from recurrent_sim.training.sequence_loss import SequenceSchedule, sequence_loss

TINY_LAYERS = {
    "paper": {"conv_channels": (4, 4, 4, 4)},
    "original": {"conv_channels": (4, 4, 4, 4)},
    "skip": {"conv_channels": (4, 4, 6, 6)},
    "motion": {"conv_channels": (4, 4, 6, 6)},
}


def _simulator(architecture="skip", seed=0, **options):
    np.random.seed(seed)
    config = simulator_config(
        architecture, frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=8,
        options=options, **TINY_LAYERS[architecture]
    )
    sim = build_simulator(config)
    # Non-zero zero-initialised layers (residual output, action biases), so every path carries gradient.
    rng = np.random.RandomState(seed + 1)
    for param in sim.params():
        if not param.array.any():
            param.array[...] = rng.uniform(-0.1, 0.1, param.shape)
    sim.set_mean_image(rng.randint(0, 256, (8, 32, 32)).astype(np.uint8))
    return sim


def _batch(plan, seed=0, batch=2):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (batch, plan.sequence_length, 32, 32)).astype(np.uint8)
    actions = rng.randint(0, 3, (batch, plan.sequence_length - 1)).astype(np.int32)
    return frames, actions


def _loss_and_grads(loss_fn, sim, frames, actions, plan):
    sim.cleargrads()
    result = loss_fn(sim, frames, actions, plan)
    result.loss.backward()
    grads = {name: p.grad.copy() for name, p in sim.namedparams() if p.grad is not None}
    return float(result.loss.array), result, grads


PLANS = [
    StepPlan.contiguous(3, 4, 0),
    StepPlan.contiguous(3, 2, 3),
    StepPlan.contiguous(2, 0, 4),
    StepPlan(3, "OPOPO", 5),
    StepPlan(2, "OOPPOOPP", 3),
    StepPlan(1, "PPPPPP", 2),
]
VARIANTS = [
    ("paper", {}),
    ("original", {}),
    ("skip", {}),
    ("skip", {"skips": False}),
    ("skip", {"residual": False}),
    ("skip", {"action_bias": False}),
    ("motion", {}),
    ("motion", {"kernels": 2, "kernel_size": 3, "skips": False, "previous_frame": False}),
    ("motion", {"local_kernel": False}),
    ("skip", {"previous_frame": True}),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: f"{p.warmup}-{p.pattern}-{p.chunk}")
@pytest.mark.parametrize("architecture, options", VARIANTS, ids=lambda v: str(v))
def test_sequence_loss_matches_the_step_by_step_reference(plan, architecture, options):
    sim = _simulator(architecture, **options)
    frames, actions = _batch(plan)
    fast = _loss_and_grads(sequence_loss, sim, frames, actions, plan)
    reference = _loss_and_grads(reference_sequence_loss, sim, frames, actions, plan)
    assert fast[0] == pytest.approx(reference[0], rel=1e-5)
    assert fast[1].obs_mse == pytest.approx(reference[1].obs_mse, rel=1e-5, abs=1e-12)
    assert fast[1].pred_mse == pytest.approx(reference[1].pred_mse, rel=1e-5, abs=1e-12)
    assert fast[2].keys() == reference[2].keys()
    for name in fast[2]:
        np.testing.assert_allclose(fast[2][name], reference[2][name], rtol=2e-3, atol=1e-6, err_msg=name)


def test_truncation_stops_gradients_at_chunk_boundaries():
    cut_plan, whole_plan = StepPlan(2, "PPPP", 2), StepPlan(2, "PPPP", 4)
    sim = _simulator()
    frames, actions = _batch(cut_plan)
    cut = _loss_and_grads(sequence_loss, sim, frames, actions, cut_plan)
    whole = _loss_and_grads(sequence_loss, sim, frames, actions, whole_plan)
    assert cut[0] == pytest.approx(whole[0], rel=1e-6)  # the same values forward ...
    assert any(not np.allclose(cut[2][n], whole[2][n]) for n in cut[2])  # ... but backprop stopped


def test_observed_steps_read_real_frames_predicted_steps_their_own_output():
    plan = StepPlan(2, "OP", 2)
    sim = _simulator()
    frames, actions = _batch(plan)
    base = sequence_loss(sim, frames, actions, plan)
    changed = frames.copy()
    changed[:, 3] = 255 - changed[:, 3]  # target of the O step; the P step does not read it
    after = sequence_loss(sim, changed, actions, plan)
    assert after.obs_mse != base.obs_mse
    assert after.pred_mse == pytest.approx(base.pred_mse, rel=1e-6)
    observed = StepPlan(2, "OO", 2)  # here the second step does read frame 3
    assert sequence_loss(sim, changed, actions, observed).obs_mse != pytest.approx(
        sequence_loss(sim, frames, actions, observed).obs_mse, rel=1e-3
    )


def test_classic_schedule_is_the_contiguous_plan():
    sim = _simulator("paper")
    schedule = SequenceSchedule(3, 2, 2)
    frames, actions = _batch(schedule.plan())
    a = sequence_loss(sim, frames, actions, schedule)
    b = sequence_loss(sim, frames, actions, StepPlan(3, "OOPP", 4))
    assert float(a.loss.array) == float(b.loss.array)


@pytest.mark.parametrize("name", ["0", "33", "0-20-33", "46-alt", "46", "67", "0-100", "100"])
def test_every_scheme_trains_through_the_loss(name):
    sim = _simulator()
    plan = Scheme(name, warmup=2).plan(10**6)
    frames, actions = _batch(plan, batch=1)
    result = sequence_loss(sim, frames, actions, plan)
    assert np.isfinite(result.loss.array)
    assert (result.obs_mse > 0) == ("O" in plan.pattern)
    assert (result.pred_mse > 0) == ("P" in plan.pattern)


def test_untrained_skip_simulator_repeats_the_last_frame():
    np.random.seed(0)
    sim = build_simulator(
        simulator_config("skip", frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=8)
    )
    sim.set_mean_image(np.full((1, 32, 32), 40, np.uint8))
    frames = np.random.RandomState(1).randint(0, 256, (2, 1, 32, 32)).astype(np.uint8)
    with chainer.no_backprop_mode():
        prediction, _ = sim.predict(sim.normalize(frames), np.array([0, 2], np.int32), sim.initial_state(2))
    np.testing.assert_array_equal(sim.to_uint8(prediction.array), frames)


def test_skip_options_are_checked():
    with pytest.raises(ValueError, match="unknown options"):
        build_simulator(simulator_config("skip", frame_shape=(32, 32), options={"skip": False}))
