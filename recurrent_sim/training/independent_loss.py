"""Loss of a prediction-independent simulator: predicted steps advance the state from actions alone.

For an architecture with :attr:`~recurrent_sim.models.SimulatorBase.prediction_independent`
(:class:`recurrent_sim.models.IndependentSimulator`). A sequence of
``sequence_length`` frames and one action fewer splits as for the other
losses (a :class:`~recurrent_sim.training.SequenceSchedule` or a
:class:`~recurrent_sim.training.schemes.StepPlan`, so every training scheme
applies): step t takes action t and predicts frame t + 1;

* warm-up steps feed the real frame t through the frame-conditioned
  transition, without backprop and without decoding;
* observation-dependent steps (``O``) do the same with backprop, and decode;
* prediction-dependent steps (``P``) advance the state from action t alone
  (:meth:`~recurrent_sim.models.SimulatorBase.advance`): no frame is fed
  back, so nothing is encoded and the decoder runs only for the loss.

Every ``chunk`` trained steps the state is cut from the graph (truncated
BPTT). The loss is the mean squared error per pixel, pixels in [0, 1], over
the trained steps; ``obs_mse`` and ``pred_mse`` are its two parts.

:func:`independent_loss` batches: the encoder runs once over the warm-up
frames and once over the real frames of each run of ``O`` steps
(:meth:`~recurrent_sim.models.SimulatorBase.warm_up`,
:meth:`~recurrent_sim.models.SimulatorBase.observe`), the decoder once over
the outputs of each run of equal letters. :func:`reference_independent_loss` is the same loss one
step at a time, what the tests check it against.
"""
import chainer
import chainer.functions as F

from recurrent_sim.models.simulator_base import detach
from recurrent_sim.training.sequence_loss import (
    SequenceLoss,
    errors_to_loss,
    head_steps,
    plan_runs,
    start_sequences,
)
from recurrent_sim.utils.errors import UserError


def _require_independent(simulator):
    if not getattr(simulator, "prediction_independent", False):
        raise UserError(
            "the loss independent_mse needs a prediction-independent architecture (such as 'independent'), "
            f"not {simulator.config.architecture!r}"
        )


def independent_loss(simulator, frames, actions, split, heads=None) -> SequenceLoss:
    """Batched loss of a prediction-independent simulator.

    Args:
        simulator: a prediction-independent :class:`recurrent_sim.models.SimulatorBase`.
        frames: (batch, sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        split: a :class:`~recurrent_sim.training.SequenceSchedule` or a
            :class:`~recurrent_sim.training.schemes.StepPlan`.
        heads: :class:`~recurrent_sim.training.heads_loss.HeadTargets` to
            train the heads of a simulator that has them (None: frames only).
    """
    _require_independent(simulator)
    plan, batch, values, actions, state = start_sequences(simulator, frames, actions, split)
    warm = plan.warmup
    steps = head_steps(simulator, heads)
    inputs = simulator.network_frames(frames)  # (B, L, C, H, W)
    if warm:
        with chainer.no_backprop_mode():
            state = simulator.warm_up(inputs[:, :warm], actions[:, :warm], state)
        state = detach(state)

    errors = {"O": 0, "P": 0}
    for start, end, letter in plan_runs(plan):
        if start and start % plan.chunk == 0:
            state = detach(state)
        first, last = warm + start, warm + end
        if letter == "O":
            decoded, hiddens, state = simulator.observe_steps(inputs[:, first:last], actions[:, first:last], state)
        else:
            hiddens = []
            for t in range(first, last):
                hidden, state = simulator.advance(actions[:, t], state)
                hiddens.append(hidden)
            hiddens = F.concat(hiddens, axis=0)
            decoded = simulator.decode(hiddens)  # ((last - first) * B, 1, H, W), time-major
        targets = inputs[:, first + 1 : last + 1].transpose(1, 0, 2, 3, 4)
        targets = targets.reshape(((last - first) * batch,) + inputs.shape[2:])
        errors[letter] = errors[letter] + F.sum(F.squared_difference(decoded, targets))
        if steps is not None:
            steps.add(hiddens, decoded, targets, first, batch)
    return errors_to_loss(errors, plan, batch * values).add_heads(simulator, steps, heads)


def reference_independent_loss(simulator, frames, actions, split) -> SequenceLoss:
    """The same loss as :func:`independent_loss`, one step and one frame at a time."""
    _require_independent(simulator)
    plan, batch, values, actions, state = start_sequences(simulator, frames, actions, split)
    warm = plan.warmup

    def real_frame(t):
        return simulator.network_frames(frames[:, t])

    with chainer.no_backprop_mode():
        for t in range(warm):
            _, state = simulator.transition(simulator.encode(real_frame(t)), actions[:, t], state)
    state = detach(state)
    errors = {"O": 0, "P": 0}
    for k, letter in enumerate(plan.pattern):
        if k and k % plan.chunk == 0:
            state = detach(state)
        t = warm + k
        if letter == "O":
            hidden, state = simulator.transition(simulator.encode(real_frame(t)), actions[:, t], state)
        else:
            hidden, state = simulator.advance(actions[:, t], state)
        prediction = simulator.decode(hidden)
        errors[letter] = errors[letter] + F.sum(F.squared_difference(prediction, real_frame(t + 1)))
    return errors_to_loss(errors, plan, batch * values)
