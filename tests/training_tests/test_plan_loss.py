"""plan_loss agrees with the step-by-step reference for every pattern and architecture."""
import dataclasses

import chainer
import numpy as np
import pytest

from recurrent_sim.models.skip_simulator import SkipSimulator
from recurrent_sim.training.plan_loss import plan_loss
from recurrent_sim.training.reference_loss import reference_plan_loss
from recurrent_sim.training.schemes import Scheme, StepPlan


@dataclasses.dataclass(frozen=True)
class TinySkipConfig:
    frame_shape: tuple = (32, 32)
    n_actions: int = 3
    hidden_size: int = 8
    factor_size: int = 16
    encoding_size: int = 8
    conv_channels: tuple = (4, 4, 6, 6)
    conv_kernels: tuple = (4, 4, 3, 3)
    conv_strides: tuple = (2, 2, 2, 2)
    conv_pads: tuple = (1, 1, 1, 1)
    skips: bool = True
    residual: bool = True
    action_bias: bool = True

    def feature_shapes(self):
        shapes = [self.frame_shape]
        for k, s, p in zip(self.conv_kernels, self.conv_strides, self.conv_pads):
            shapes.append(tuple((x + 2 * p - k) // s + 1 for x in shapes[-1]))
        return shapes


def _skip_simulator(seed=0, **changes):
    np.random.seed(seed)
    sim = SkipSimulator(TinySkipConfig(**changes))
    # Non-zero last layer and action biases, so every path carries gradient.
    for param in sim.params():
        if not param.array.any():
            param.array[...] = np.random.uniform(-0.1, 0.1, param.shape)
    sim.set_mean_image(np.random.RandomState(seed).randint(0, 256, (8, 32, 32)).astype(np.uint8))
    return sim


def _batch(plan, seed=0, batch=2):
    rng = np.random.RandomState(seed)
    frames = rng.randint(0, 256, (batch, plan.sequence_length, 32, 32)).astype(np.uint8)
    actions = rng.randint(0, 3, (batch, plan.sequence_length - 1)).astype(np.int32)
    return frames, actions


def _loss_and_grads(loss_fn, sim, frames, actions, plan):
    sim.cleargrads()
    loss, metrics = loss_fn(sim, frames, actions, plan)
    loss.backward()
    return float(loss.array), metrics, {name: p.grad.copy() for name, p in sim.namedparams() if p.grad is not None}


PLANS = [
    StepPlan.contiguous(3, 4, 0),
    StepPlan.contiguous(3, 2, 3),
    StepPlan.contiguous(2, 0, 4),
    StepPlan(3, "OPOPO", 5),
    StepPlan(2, "OOPPOOPP", 3),
    StepPlan(1, "PPPPPP", 2),
]


@pytest.mark.parametrize("plan", PLANS, ids=lambda p: f"{p.warmup}-{p.pattern}-{p.chunk}")
@pytest.mark.parametrize(
    "variant", [{}, {"skips": False}, {"residual": False}, {"action_bias": False}], ids=str
)
def test_plan_loss_matches_the_step_by_step_reference(plan, variant):
    sim = _skip_simulator(**variant)
    frames, actions = _batch(plan)
    fast = _loss_and_grads(plan_loss, sim, frames, actions, plan)
    reference = _loss_and_grads(reference_plan_loss, sim, frames, actions, plan)
    assert fast[0] == pytest.approx(reference[0], rel=1e-5)
    for key in ("obs_mse", "pred_mse"):
        assert fast[1][key] == pytest.approx(reference[1][key], rel=1e-5, abs=1e-12)
    assert fast[2].keys() == reference[2].keys()
    for name in fast[2]:
        np.testing.assert_allclose(fast[2][name], reference[2][name], rtol=2e-3, atol=1e-6, err_msg=name)


def _grad_norm_of_first_step_from(sim, frames, actions, plan):
    """Gradient of the loss of the LAST chunk w.r.t. the encoder, with chunks cut."""
    sim.cleargrads()
    loss, _ = plan_loss(sim, frames, actions, plan)
    loss.backward()
    return loss


def test_truncation_stops_gradients_at_chunk_boundaries():
    # With chunk 2 the loss of steps 3-4 may not depend on what steps 1-2
    # computed with backprop: perturbing the gradient path (not the values)
    # is invisible, so compare with a plan that cuts nowhere.
    plan_cut = StepPlan(2, "PPPP", 2)
    plan_whole = StepPlan(2, "PPPP", 4)
    sim = _skip_simulator()
    frames, actions = _batch(plan_cut)
    cut = _loss_and_grads(plan_loss, sim, frames, actions, plan_cut)
    whole = _loss_and_grads(plan_loss, sim, frames, actions, plan_whole)
    assert cut[0] == pytest.approx(whole[0], rel=1e-6)  # same values forward
    differs = [not np.allclose(cut[2][n], whole[2][n]) for n in cut[2]]
    assert any(differs)  # but the gradients differ: backprop stopped at the cut


def test_observed_steps_see_real_frames_and_predicted_steps_their_own_output():
    plan = StepPlan(2, "OP", 2)
    sim = _skip_simulator()
    frames, actions = _batch(plan)
    _, base = plan_loss(sim, frames, actions, plan)
    # Changing the real frame that a P step would have seen changes nothing
    # of that step's input: only its target (frame 4) and nothing else.
    changed = frames.copy()
    changed[:, 3] = 255 - changed[:, 3]
    _, after = plan_loss(sim, changed, actions, plan)
    # frame 3 is the target of the O step and the (unused) real input of the P step
    assert after["obs_mse"] != base["obs_mse"]
    assert after["pred_mse"] == pytest.approx(base["pred_mse"], rel=1e-6)
    # An all-O plan does read frame 3 as the input of its second step.
    plan_o = StepPlan(2, "OO", 2)
    _, o_base = plan_loss(sim, frames, actions, plan_o)
    _, o_after = plan_loss(sim, changed, actions, plan_o)
    assert o_after["obs_mse"] != o_base["obs_mse"]


def test_scheme_plans_run_through_the_loss():
    sim = _skip_simulator()
    scheme = Scheme("46-alt", warmup=2, chunks=1)
    plan = scheme.plan(0)
    frames, actions = _batch(plan)
    loss, metrics = plan_loss(sim, frames, actions, plan)
    assert np.isfinite(loss.array) and metrics["obs_mse"] > 0 and metrics["pred_mse"] > 0


def test_untrained_residual_skip_simulator_repeats_the_last_frame():
    np.random.seed(0)
    sim = SkipSimulator(TinySkipConfig())
    sim.set_mean_image(np.full((1, 32, 32), 40, np.uint8))
    frames = np.random.RandomState(1).randint(0, 256, (2, 1, 32, 32)).astype(np.uint8)
    inputs = sim.normalize(frames)
    with chainer.no_backprop_mode():
        prediction, _ = sim.predict(inputs, np.array([0, 2], np.int32), sim.initial_state(2))
    np.testing.assert_array_equal(sim.to_uint8(prediction.array), frames)
