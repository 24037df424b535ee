"""Loss of the simulator on a batch of recorded sequences.

A sequence holds ``unroll_dep + obs_dep + pred_dep + 1`` frames and one
action fewer. Step t feeds frame t (real or predicted) and action t and
predicts frame t + 1:

* ``unroll_dep`` warm-up steps on real frames, without backprop and without
  decoding (their predictions are never used);
* ``obs_dep`` observation-dependent steps: the input is the real frame;
* ``pred_dep`` prediction-dependent steps: the input is the model's own
  previous prediction (with ``obs_dep == 0`` the first one is decoded from
  the last warm-up state, without backprop like the rest of the warm-up).

:func:`recurrent_sim.training.reference_loss.reference_sequence_loss`
computes the same loss one step at a time.

The loss is the mean squared error per pixel, pixels in [0, 1], averaged
over all obs_dep + pred_dep predicted frames.
"""
import dataclasses

import chainer
import chainer.functions as F

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


@dataclasses.dataclass
class SequenceLoss:
    """Loss Variable plus its observation- and prediction-dependent parts (floats)."""

    loss: chainer.Variable
    obs_mse: float
    pred_mse: float


def _merge(x):
    """(batch, time, ...) -> (batch * time, ...)."""
    return F.reshape(x, (x.shape[0] * x.shape[1],) + x.shape[2:])


def start_sequences(simulator, frames, actions, schedule: SequenceSchedule):
    """``(batch, height, width, actions, state)`` to start a loss on sequences: the sizes of
    ``frames`` (checked against the schedule's length, ValueError otherwise), the actions as
    int32 on the simulator's device and its initial state."""
    batch, length = frames.shape[:2]
    if length != schedule.sequence_length:
        raise ValueError(f"expected sequences of {schedule.sequence_length} frames, got {length}")
    xp = simulator.xp
    return batch, frames.shape[2], frames.shape[3], xp.asarray(actions, dtype=xp.int32), simulator.initial_state(batch)


def sequence_loss(simulator, frames, actions, schedule: SequenceSchedule) -> SequenceLoss:
    """Compute the simulator's loss on sequences.

    The encoder runs once over all real input frames and the decoder once
    over all observation-dependent outputs; only prediction-dependent steps
    go one frame at a time.

    Args:
        simulator: a :class:`recurrent_sim.models.Simulator`.
        frames: (batch, sequence_length, H, W) uint8 (numpy or cupy).
        actions: (batch, sequence_length - 1) int32.
        schedule: the split of each sequence.
    """
    batch, height, width, actions, state = start_sequences(simulator, frames, actions, schedule)
    warm, obs, pred = schedule.unroll_dep, schedule.obs_dep, schedule.pred_dep
    inputs = simulator.normalize(frames)[:, :, None]  # (B, L, 1, H, W)

    hidden = None
    if warm:
        with chainer.no_backprop_mode():
            codes = simulator.encode(_merge(inputs[:, :warm])).reshape(batch, warm, -1)
            for t in range(warm):
                hidden, state = simulator.transition(codes[:, t], actions[:, t], state)
        state = tuple(chainer.as_array(s) for s in state)

    squared_errors = []
    obs_mse = 0.0
    if obs:
        codes = F.reshape(simulator.encode(_merge(inputs[:, warm : warm + obs])), (batch, obs, -1))
        hiddens = []
        for t in range(obs):
            hidden, state = simulator.transition(codes[:, t], actions[:, warm + t], state)
            hiddens.append(hidden)
        decoded = simulator.decode(F.concat(hiddens, axis=0))  # (obs * B, 1, H, W), time-major
        targets = inputs[:, warm + 1 : warm + obs + 1].transpose(1, 0, 2, 3, 4)
        targets = targets.reshape(obs * batch, 1, height, width)
        err = F.sum(F.squared_difference(decoded, targets))
        squared_errors.append(err)
        obs_mse = float(err.array) / (obs * batch * height * width)
        previous = decoded[(obs - 1) * batch :]
    else:
        # The first prediction-dependent input is the warm-up's last
        # prediction: a warm-up output, so no backprop into it.
        with chainer.no_backprop_mode():
            previous = simulator.decode(hidden).array

    pred_mse = 0.0
    if pred:
        start = warm + obs
        err_sum = 0
        for t in range(pred):
            previous, state = simulator.predict(previous, actions[:, start + t], state)
            err_sum = err_sum + F.sum(F.squared_difference(previous, inputs[:, start + t + 1]))
        squared_errors.append(err_sum)
        pred_mse = float(err_sum.array) / (pred * batch * height * width)

    total = squared_errors[0] if len(squared_errors) == 1 else squared_errors[0] + squared_errors[1]
    loss = total / ((obs + pred) * batch * height * width)
    return SequenceLoss(loss=loss, obs_mse=obs_mse, pred_mse=pred_mse)
