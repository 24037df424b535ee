"""The simulator's loss computed the plain way, one step at a time.

:func:`reference_sequence_loss` runs every step as one call of
``simulator.predict`` on one frame of each sequence, the decoder included
during the warm-up (whose predictions are then thrown away). It is what
:func:`recurrent_sim.training.sequence_loss` computes, written without any
of its batching, and serves two purposes: a check that the fast loss is
right (same value, same gradients, for every architecture and split), and
the baseline that ``recurrent-sim bench`` times it against.
"""
import chainer

from recurrent_sim.models.simulator_base import detach
from recurrent_sim.training.sequence_loss import SequenceLoss, errors_to_loss, start_sequences


def reference_sequence_loss(simulator, frames, actions, split) -> SequenceLoss:
    """Step-by-step loss of the simulator on sequences.

    Step t feeds frame t (the real frame during warm-up and ``O`` steps,
    the previous prediction during ``P`` steps) with action t and predicts
    frame t + 1. Warm-up steps run without backprop; every ``plan.chunk``
    trained steps the state and the previous prediction are cut from the
    graph. The loss is the simulator's frame error per pixel (the mean squared error,
    pixels in [0, 1]) over the trained steps.

    Args:
        simulator: a :class:`recurrent_sim.models.SimulatorBase`.
        frames: (batch, sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        split: a :class:`recurrent_sim.training.schemes.StepPlan` or a
            :class:`recurrent_sim.training.sequence_loss.SequenceSchedule`.
    Returns:
        :class:`SequenceLoss` (loss Variable, obs_mse and pred_mse floats).
    """
    plan, batch, values, actions, state = start_sequences(simulator, frames, actions, split)

    def real_frame(t):
        """(batch, C, H, W) normalised real frame t."""
        return simulator.network_frames(frames[:, t])

    prediction = None
    with chainer.no_backprop_mode():
        for t in range(plan.warmup):
            prediction, state = simulator.predict(real_frame(t), actions[:, t], state)
    state, prediction = detach(state), detach(prediction)

    errors = {"O": 0, "P": 0}
    for i, letter in enumerate(plan.pattern):
        if i and i % plan.chunk == 0:
            state, prediction = detach(state), detach(prediction)
        t = plan.warmup + i
        inputs = real_frame(t) if letter == "O" else prediction
        prediction, state = simulator.predict(inputs, actions[:, t], state)
        errors[letter] = errors[letter] + simulator.frame_error(prediction, real_frame(t + 1))
    return errors_to_loss(errors, plan, batch * values)
