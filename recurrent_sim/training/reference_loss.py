"""The simulator's loss computed the plain way, one step at a time.

:func:`reference_sequence_loss` runs every step as encode -> transition ->
decode on one frame of each sequence, the decoder included during the
warm-up (whose predictions are then thrown away). It is what
:func:`recurrent_sim.training.sequence_loss` computes, written without any
of its batching, and serves two purposes: a check that the fast loss is
right (same value, same gradients), and the baseline that ``recurrent-sim
bench`` times it against.
"""
import chainer
import chainer.functions as F

from recurrent_sim.training.sequence_loss import SequenceLoss, SequenceSchedule, start_sequences


def reference_sequence_loss(simulator, frames, actions, schedule: SequenceSchedule) -> SequenceLoss:
    """Step-by-step loss of the simulator on sequences.

    Step t feeds frame t (the real frame during warm-up and observation-
    dependent steps, the previous prediction during prediction-dependent
    steps) with action t and predicts frame t + 1. Warm-up steps run without
    backprop; the loss is the mean squared error per pixel (pixels in
    [0, 1]) over the ``obs_dep + pred_dep`` predicted frames.

    Args:
        simulator: a :class:`recurrent_sim.models.Simulator`.
        frames: (batch, sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        schedule: the split of each sequence.
    Returns:
        :class:`SequenceLoss` (loss Variable, obs_mse and pred_mse floats).
    """
    batch, height, width, actions, state = start_sequences(simulator, frames, actions, schedule)
    warm, obs, pred = schedule.unroll_dep, schedule.obs_dep, schedule.pred_dep

    def real_frame(t):
        """(batch, 1, H, W) normalised real frame t."""
        return simulator.normalize(frames[:, t])[:, None]

    prediction = None
    with chainer.no_backprop_mode():
        for t in range(warm):
            prediction, state = simulator.predict(real_frame(t), actions[:, t], state)
    state = tuple(chainer.as_array(s) for s in state)
    if prediction is not None:
        prediction = chainer.as_array(prediction)

    obs_error = 0
    pred_error = 0
    for t in range(warm, warm + obs + pred):
        observed = t < warm + obs
        inputs = real_frame(t) if observed else prediction
        prediction, state = simulator.predict(inputs, actions[:, t], state)
        error = F.sum(F.squared_difference(prediction, real_frame(t + 1)))
        if observed:
            obs_error = obs_error + error
        else:
            pred_error = pred_error + error

    pixels = batch * height * width
    loss = (obs_error + pred_error) / ((obs + pred) * pixels)
    return SequenceLoss(
        loss=loss,
        obs_mse=float(obs_error.array) / (obs * pixels) if obs else 0.0,
        pred_mse=float(pred_error.array) / (pred * pixels) if pred else 0.0,
    )
