"""Loss of the simulator on a batch of recorded sequences, for any architecture.

A sequence holds ``plan.sequence_length`` frames and one action fewer. Step
t feeds frame t (real, or the model's previous prediction) and action t and
predicts frame t + 1 (see :class:`recurrent_sim.training.schemes.StepPlan`):

* ``plan.warmup`` warm-up steps on real frames, without backprop and
  without decoding (except the last one when the first trained step is
  prediction-dependent: its prediction, made without backprop, is that
  step's input);
* one trained step per letter of ``plan.pattern``: ``O``
  (observation-dependent) feeds the real frame, ``P``
  (prediction-dependent) the previous prediction;
* every ``plan.chunk`` trained steps the state and the fed-back prediction
  are cut from the graph (truncated BPTT): values carry over, gradients do
  not.

Runs of ``O`` steps go through the architecture's batched
:meth:`~recurrent_sim.models.SimulatorBase.observe` (the encoder once over
all their frames, the decoder once over all their outputs), ``P`` steps one
at a time through ``predict``. The classic split of the original code,
``unroll_dep`` warm-up, ``obs_dep`` observed and ``pred_dep`` predicted steps
(:class:`SequenceSchedule`), is the plan ``"O" * obs_dep + "P" * pred_dep``.

:func:`recurrent_sim.training.reference_loss.reference_sequence_loss`
computes the same loss with ``predict`` alone, one step at a time.

The loss is the mean squared error per pixel, pixels in [0, 1], averaged
over all trained steps (the simulator's
:meth:`~recurrent_sim.models.SimulatorBase.frame_error`: the motion
architecture's ``plane_loss`` compares intensity planes instead).
"""
import contextlib
import dataclasses

from typing import Optional

import chainer
import numpy as np

from recurrent_sim.models.simulator_base import detach
from recurrent_sim.training.heads_loss import HeadSteps
from recurrent_sim.training.schemes import StepPlan
from recurrent_sim.utils.settings import Setting, non_negative_int

UNROLL_DEP = Setting("unroll_dep", 15, "warm-up steps on real frames, no backprop", non_negative_int,
                     flags=("--unroll-dep", "--unroll_dep"), original_flag="--unroll_dep")
OBS_DEP = Setting("obs_dep", 10, "observation-dependent steps", non_negative_int, flags=("--obs-dep", "--obs_dep"),
                  original_flag="--obs_dep")
PRED_DEP = Setting("pred_dep", 10, "prediction-dependent steps", non_negative_int, flags=("--pred-dep", "--pred_dep"),
                   original_flag="--pred_dep")


@dataclasses.dataclass(frozen=True)
class SequenceSchedule:
    """How a training sequence is split into warm-up, observed and predicted steps."""

    unroll_dep: int = UNROLL_DEP.field()
    obs_dep: int = OBS_DEP.field()
    pred_dep: int = PRED_DEP.field()

    def __post_init__(self):
        for name in ("unroll_dep", "obs_dep", "pred_dep"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.obs_dep + self.pred_dep < 1:
            raise ValueError("obs_dep + pred_dep must be >= 1: nothing would be trained")
        if self.unroll_dep + self.obs_dep < 1:
            raise ValueError("unroll_dep + obs_dep must be >= 1: no real frame to start from")

    @property
    def sequence_length(self) -> int:
        """Frames per training sequence: unroll_dep + obs_dep + pred_dep + 1."""
        return self.unroll_dep + self.obs_dep + self.pred_dep + 1

    def plan(self, update: int = 0) -> StepPlan:
        """The :class:`StepPlan` of this split (the same at every update)."""
        return StepPlan.contiguous(self.unroll_dep, self.obs_dep, self.pred_dep)


@dataclasses.dataclass
class SequenceLoss:
    """Loss Variable plus its observation- and prediction-dependent parts (floats).

    With heads trained (:mod:`recurrent_sim.training.heads_loss`), ``loss``
    also holds the weighted heads loss, ``frame_error`` is the frame loss
    alone and ``head_metrics`` the heads' own figures.
    """

    loss: chainer.Variable
    obs_mse: float
    pred_mse: float
    frame_error: Optional[float] = None
    head_metrics: dict = dataclasses.field(default_factory=dict)

    def add_heads(self, simulator, steps, heads):
        """Add the heads loss of the recorded :class:`HeadSteps` (nothing when ``steps`` is None)."""
        if steps is None:
            return self
        self.frame_error = float(self.loss.array)
        head_loss, self.head_metrics = steps.loss(simulator, heads)
        self.loss = head_loss if heads.weights.heads_only else self.loss + head_loss
        return self


def head_steps(simulator, heads):
    """A :class:`HeadSteps` to fill when ``heads`` targets are given for a simulator with heads, else None."""
    return HeadSteps() if heads is not None and simulator.has_heads else None


def as_plan(split) -> StepPlan:
    """A :class:`StepPlan` from a StepPlan or a :class:`SequenceSchedule`."""
    return split if isinstance(split, StepPlan) else split.plan(0)


def plan_runs(plan):
    """(start, end, letter) of the runs of equal letters, split at chunk boundaries."""
    pattern, chunk = plan.pattern, plan.chunk
    start = 0
    while start < len(pattern):
        end = start + 1
        while end < len(pattern) and pattern[end] == pattern[start] and end % chunk != 0:
            end += 1
        yield start, end, pattern[start]
        start = end


def errors_to_loss(errors, plan, pixels) -> SequenceLoss:
    """SequenceLoss from summed squared errors ``{"O": ..., "P": ...}`` over ``pixels`` per step."""
    observed, predicted = plan.observed, plan.predicted
    loss = (errors["O"] + errors["P"]) / ((observed + predicted) * pixels)
    return SequenceLoss(
        loss=loss,
        obs_mse=float(chainer.as_array(errors["O"])) / (observed * pixels) if observed else 0.0,
        pred_mse=float(chainer.as_array(errors["P"])) / (predicted * pixels) if predicted else 0.0,
    )


def start_sequences(simulator, frames, actions, split):
    """``(plan, batch, values, actions, state)`` to start a loss on sequences: the
    :class:`StepPlan` of ``split``, the batch size of ``frames`` (their length checked against the
    plan's, ValueError otherwise), the pixel values of one frame (H * W gray, 3 * H * W RGB: the
    loss is a mean over them), the actions as int32 on the simulator's device and its initial state."""
    plan = as_plan(split)
    batch, length = frames.shape[:2]
    if length != plan.sequence_length:
        raise ValueError(f"expected sequences of {plan.sequence_length} frames, got {length}")
    xp = simulator.xp
    actions = xp.asarray(actions, dtype=xp.int32)
    values = int(np.prod(frames.shape[2:]))
    return plan, batch, values, actions, simulator.initial_state(batch)


def sequence_loss(simulator, frames, actions, split, heads=None) -> SequenceLoss:
    """Compute the simulator's loss on sequences.

    Args:
        simulator: a :class:`recurrent_sim.models.SimulatorBase`.
        frames: (batch, sequence_length) + ``simulator.config.image_shape`` uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        split: a :class:`StepPlan`, or a :class:`SequenceSchedule`.
        heads: :class:`~recurrent_sim.training.heads_loss.HeadTargets` to
            train the heads of a simulator that has them (None: frames only).
    """
    plan, batch, values, actions, state = start_sequences(simulator, frames, actions, split)
    warm = plan.warmup
    inputs = simulator.network_frames(frames)  # (B, L, C, H, W)

    previous = None
    with chainer.no_backprop_mode():
        real_warm = warm - 1 if plan.pattern[0] == "P" else warm
        if real_warm:
            state = simulator.warm_up(inputs[:, :real_warm], actions[:, :real_warm], state)
        if real_warm < warm:
            previous, state = simulator.predict(inputs[:, warm - 1], actions[:, warm - 1], state)
    state, previous = detach(state), detach(previous)

    steps = head_steps(simulator, heads)
    heads_only = steps is not None and heads.weights.heads_only
    with chainer.no_backprop_mode() if heads_only else contextlib.nullcontext():  # heads only: no frame graph
        errors = _trained_steps(simulator, inputs, actions, plan, batch, state, previous, steps)
    return errors_to_loss(errors, plan, batch * values).add_heads(simulator, steps, heads)


def _trained_steps(simulator, inputs, actions, plan, batch, state, previous, steps):
    """The summed squared errors ``{"O": ..., "P": ...}`` of the plan's trained steps (see the module),
    each step recorded in ``steps`` (a :class:`HeadSteps`, or None) for the heads."""
    warm = plan.warmup
    errors = {"O": 0, "P": 0}
    for start, end, letter in plan_runs(plan):
        if start and start % plan.chunk == 0:
            state, previous = detach(state), detach(previous)
        step = warm + start
        if letter == "O":
            count = end - start
            predictions, hiddens, state = simulator.observe_steps(
                inputs[:, step : step + count], actions[:, step : step + count], state
            )
            targets = inputs[:, step + 1 : step + count + 1].transpose(1, 0, 2, 3, 4)
            targets = targets.reshape((count * batch,) + inputs.shape[2:])
            errors["O"] = errors["O"] + simulator.frame_error(predictions, targets)
            previous = predictions[(count - 1) * batch :]
            if steps is not None:
                steps.add(hiddens, predictions, targets, step, batch)
        else:
            for t in range(step, warm + end):
                previous, state = simulator.predict(previous, actions[:, t], state)
                errors["P"] = errors["P"] + simulator.frame_error(previous, inputs[:, t + 1])
                if steps is not None:
                    steps.add(simulator.head_features(state), previous, inputs[:, t + 1], t, batch)
    return errors
