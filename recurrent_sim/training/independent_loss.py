"""Loss of a prediction-independent simulator: predicted steps advance the state from actions alone.

For an architecture with :attr:`~recurrent_sim.models.SimulatorBase.prediction_independent`
(:class:`recurrent_sim.models.IndependentSimulator`). A sequence of
``sequence_length`` frames and one action fewer splits as for the paper's
loss (a :class:`~recurrent_sim.training.SequenceSchedule`, or any plan with
``warmup``, ``pattern`` and ``chunk``): step t takes action t and predicts
frame t + 1;

* warm-up steps feed the real frame t through the frame-conditioned
  transition, without backprop and without decoding;
* observation-dependent steps (``O``) do the same with backprop, and decode;
* prediction-dependent steps (``P``) advance the state from action t alone
  (:meth:`~recurrent_sim.models.SimulatorBase.advance`): no frame is fed
  back, so nothing is encoded and the decoder runs only for the loss.

Every ``chunk`` trained steps the state is cut from the graph (truncated
BPTT). The loss is the mean squared error per pixel, pixels in [0, 1], over
the trained steps; ``obs_mse`` and ``pred_mse`` are its two parts.

:func:`independent_loss` batches: the encoder runs once over the real frames
of each run of ``O`` steps and the decoder once over the outputs of each run
of equal letters. :func:`reference_independent_loss` is the same loss one
step at a time, what the tests check it against.
"""
import chainer
import chainer.functions as F

from recurrent_sim.training.sequence_loss import SequenceLoss, start_sequences
from recurrent_sim.utils.errors import UserError


def step_letters(split):
    """(warm-up steps, letters ``O``/``P`` of the trained steps, chunk) of a schedule or a plan."""
    pattern = getattr(split, "pattern", None)
    if pattern is not None:
        return split.warmup, pattern, split.chunk
    pattern = "O" * split.obs_dep + "P" * split.pred_dep
    return split.unroll_dep, pattern, len(pattern)


def _require_independent(simulator):
    if not getattr(simulator, "prediction_independent", False):
        raise UserError(
            "the loss independent_mse needs a prediction-independent architecture (such as 'independent'), "
            f"not {simulator.config.architecture!r}"
        )


def _runs(letters, chunk):
    """(start, end, letter) of the runs of equal letters, split at chunk boundaries."""
    start = 0
    while start < len(letters):
        end = start + 1
        while end < len(letters) and letters[end] == letters[start] and end % chunk != 0:
            end += 1
        yield start, end, letters[start]
        start = end


def _detach(state):
    return tuple(chainer.as_array(s) for s in state)


def _to_loss(errors, letters, pixels) -> SequenceLoss:
    observed, predicted = letters.count("O"), letters.count("P")
    loss = (errors["O"] + errors["P"]) / (len(letters) * pixels)
    return SequenceLoss(
        loss=loss,
        obs_mse=float(chainer.as_array(errors["O"])) / (observed * pixels) if observed else 0.0,
        pred_mse=float(chainer.as_array(errors["P"])) / (predicted * pixels) if predicted else 0.0,
    )


def independent_loss(simulator, frames, actions, split) -> SequenceLoss:
    """Batched loss of a prediction-independent simulator.

    Args:
        simulator: a prediction-independent :class:`recurrent_sim.models.SimulatorBase`.
        frames: (batch, sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        split: a :class:`~recurrent_sim.training.SequenceSchedule`, or a plan
            (``warmup``, ``pattern``, ``chunk``, ``sequence_length``).
    """
    warm, letters, chunk = step_letters(split)
    _require_independent(simulator)
    batch, height, width, actions, state = start_sequences(simulator, frames, actions, split)
    inputs = simulator.normalize(frames)[:, :, None]  # (B, L, 1, H, W)

    def encode(first, count):  # (B, count, code) of real frames first .. first + count - 1
        codes = simulator.encode(F.reshape(inputs[:, first : first + count], (batch * count, 1, height, width)))
        return F.reshape(codes, (batch, count, -1))

    if warm:
        with chainer.no_backprop_mode():
            codes = encode(0, warm)
            for t in range(warm):
                _, state = simulator.transition(codes[:, t], actions[:, t], state)
        state = _detach(state)

    errors = {"O": 0, "P": 0}
    for start, end, letter in _runs(letters, chunk):
        if start and start % chunk == 0:
            state = _detach(state)
        first, count = warm + start, end - start
        codes = encode(first, count) if letter == "O" else None
        hiddens = []
        for k in range(count):
            if letter == "O":
                hidden, state = simulator.transition(codes[:, k], actions[:, first + k], state)
            else:
                hidden, state = simulator.advance(actions[:, first + k], state)
            hiddens.append(hidden)
        decoded = simulator.decode(F.concat(hiddens, axis=0))  # (count * B, 1, H, W), time-major
        targets = inputs[:, first + 1 : first + count + 1].transpose(1, 0, 2, 3, 4)
        targets = targets.reshape((count * batch, 1, height, width))
        errors[letter] = errors[letter] + F.sum(F.squared_difference(decoded, targets))
    return _to_loss(errors, letters, batch * height * width)


def reference_independent_loss(simulator, frames, actions, split) -> SequenceLoss:
    """The same loss as :func:`independent_loss`, one step and one frame at a time."""
    warm, letters, chunk = step_letters(split)
    _require_independent(simulator)
    batch, height, width, actions, state = start_sequences(simulator, frames, actions, split)

    def real_frame(t):
        return simulator.normalize(frames[:, t])[:, None]

    with chainer.no_backprop_mode():
        for t in range(warm):
            _, state = simulator.transition(simulator.encode(real_frame(t)), actions[:, t], state)
    state = _detach(state)
    errors = {"O": 0, "P": 0}
    for k, letter in enumerate(letters):
        if k and k % chunk == 0:
            state = _detach(state)
        t = warm + k
        if letter == "O":
            hidden, state = simulator.transition(simulator.encode(real_frame(t)), actions[:, t], state)
        else:
            hidden, state = simulator.advance(actions[:, t], state)
        prediction = simulator.decode(hidden)
        errors[letter] = errors[letter] + F.sum(F.squared_difference(prediction, real_frame(t + 1)))
    return _to_loss(errors, letters, batch * height * width)
