"""Loss of any simulator architecture on sequences split by a :class:`StepPlan`.

A sequence holds ``plan.sequence_length`` frames and one action fewer. Step
t feeds frame t (real, or the model's previous prediction) and action t and
predicts frame t + 1:

* ``plan.warmup`` warm-up steps on real frames, without backprop and
  without decoding (except the last one when the first trained step is
  prediction-dependent: its prediction is that step's input);
* one trained step per letter of ``plan.pattern``: ``O`` feeds the real
  frame, ``P`` the previous prediction;
* every ``plan.chunk`` trained steps the state and the fed-back prediction
  are cut from the graph (truncated BPTT): values carry over, gradients
  do not.

Runs of ``O`` steps go through the architecture's batched ``observe``; ``P``
steps one at a time through ``predict``.
:func:`recurrent_sim.training.reference_loss.reference_plan_loss` computes
the same loss with ``predict`` alone.

The loss is the mean squared error per pixel, pixels in [0, 1], averaged
over all trained steps. Metrics: ``obs_mse`` and ``pred_mse``, the errors of
the observation- and prediction-dependent steps (0 where there are none).
"""
import chainer
import chainer.functions as F


def _runs(plan):
    """(start, end, letter) of the runs of equal letters, split at chunk boundaries."""
    pattern, chunk = plan.pattern, plan.chunk
    start = 0
    while start < len(pattern):
        end = start + 1
        while end < len(pattern) and pattern[end] == pattern[start] and end % chunk != 0:
            end += 1
        yield start, end, pattern[start]
        start = end


def _detach(value):
    if isinstance(value, tuple):
        return tuple(chainer.as_array(v) for v in value)
    return chainer.as_array(value)


def plan_loss(simulator, frames, actions, plan):
    """Loss of ``simulator`` on sequences split by ``plan``.

    Args:
        simulator: a :class:`recurrent_sim.models.simulator_base.SimulatorBase`.
        frames: (batch, plan.sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, plan.sequence_length - 1) int32.
        plan: a :class:`recurrent_sim.training.schemes.StepPlan`.
    Returns:
        ``(loss, metrics)``: the loss Variable and a dict of floats
        ``{"obs_mse", "pred_mse"}``.
    """
    xp = simulator.xp
    batch, length = frames.shape[:2]
    if length != plan.sequence_length:
        raise ValueError(f"expected sequences of {plan.sequence_length} frames, got {length}")
    height, width = frames.shape[2:]
    pixels = batch * height * width
    warm = plan.warmup
    inputs = simulator.normalize(frames)[:, :, None]  # (B, L, 1, H, W)
    actions = xp.asarray(actions, dtype=xp.int32)
    state = simulator.initial_state(batch)

    previous = None
    with chainer.no_backprop_mode():
        real_warm = warm - 1 if plan.pattern[0] == "P" else warm
        if real_warm:
            state = simulator.warm_up(inputs[:, :real_warm], actions[:, :real_warm], state)
        if real_warm < warm:
            previous, state = simulator.predict(inputs[:, warm - 1], actions[:, warm - 1], state)
    state, previous = _detach(state), None if previous is None else _detach(previous)

    errors = {"O": 0, "P": 0}
    for start, end, letter in _runs(plan):
        if start and start % plan.chunk == 0:
            state, previous = _detach(state), _detach(previous)
        step = warm + start
        if letter == "O":
            count = end - start
            predictions, state = simulator.observe(
                inputs[:, step : step + count], actions[:, step : step + count], state
            )
            targets = inputs[:, step + 1 : step + count + 1].transpose(1, 0, 2, 3, 4)
            targets = targets.reshape((count * batch, 1, height, width))
            errors["O"] = errors["O"] + F.sum(F.squared_difference(predictions, targets))
            previous = predictions[(count - 1) * batch :]
        else:
            for t in range(step, warm + end):
                previous, state = simulator.predict(previous, actions[:, t], state)
                errors["P"] = errors["P"] + F.sum(F.squared_difference(previous, inputs[:, t + 1]))

    observed, predicted = plan.observed, plan.predicted
    total = errors["O"] + errors["P"]
    loss = total / ((observed + predicted) * pixels)
    metrics = {
        "obs_mse": float(chainer.as_array(errors["O"])) / (observed * pixels) if observed else 0.0,
        "pred_mse": float(chainer.as_array(errors["P"])) / (predicted * pixels) if predicted else 0.0,
    }
    return loss, metrics
