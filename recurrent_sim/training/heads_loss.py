"""Loss of the reward, episode-end and self-error heads, added to the frame loss.

While a sequence loss runs its trained steps (observation- and
prediction-dependent alike; never the warm-up), :class:`HeadSteps` gathers
each step's transition output (what the heads read) and the squared error
per pixel of the frame that step predicted. The heads loss is then

``reward_weight * CE(reward) + done_weight * BCE(episode end)
+ error_weight * (log_error - log(error + 1e-6))^2``,

the episode-end term weighing the steps that end an episode
``done_positive_weight`` times (1: plain cross-entropy),

each term a mean over the trained steps of the batch: the reward is a class
over its sign (negative, zero, positive; softmax cross-entropy), the episode
end a sigmoid cross-entropy, and the error head regresses the logarithm of
the frame error, which is cut from the graph (the heads learn to estimate
the error; the frame loss alone lowers it). The step at sequence position t
takes action t on frame t and predicts frame t + 1: its targets are
``rewards[:, t]`` and ``episode_ends[:, t]``.

The weights are relative to the frame loss, a mean squared error per pixel
(pixels in [0, 1]).
"""
import dataclasses
from typing import NamedTuple, Optional

import chainer
import chainer.functions as F
import numpy as np

from recurrent_sim.models.heads import ERROR_FLOOR, reward_classes
from recurrent_sim.utils.settings import Setting, non_negative_float

REWARD_WEIGHT = Setting("reward_weight", 0.01, "weight of the reward head's cross-entropy in the loss "
                        "(simulators with heads)", non_negative_float)
DONE_WEIGHT = Setting("done_weight", 0.01, "weight of the episode-end head's cross-entropy in the loss "
                      "(simulators with heads)", non_negative_float)
DONE_POSITIVE_WEIGHT = Setting("done_positive_weight", 1.0, "weight of the steps that end an episode in the "
                               "episode-end head's cross-entropy, against 1 for the others: above 1 for rare "
                               "episode ends, so that the head's probability passes 0.5 where an end is likely "
                               "rather than only where it is certain", non_negative_float)
ERROR_WEIGHT = Setting("error_weight", 0.01, "weight of the self-error head's squared log error in the loss "
                       "(simulators with heads)", non_negative_float)
HEADS_ONLY = Setting("heads_only", False, "train the heads alone: the frame network (encoder, LSTM, decoder) keeps "
                     "the weights it has (from --loadtosim), while the heads learn on its states, its own "
                     "predictions included", bool)
HEAD_METRICS = ("reward_loss", "done_loss", "error_loss", "reward_accuracy")


@dataclasses.dataclass(frozen=True)
class HeadWeights:
    """Weights of the three head losses beside the frame loss; with ``heads_only`` the loss is the
    heads' alone, on the transition outputs cut from the graph (nothing behind the heads is
    differentiated, so an update costs little more than the forward pass)."""

    reward_weight: float = REWARD_WEIGHT.field()
    done_weight: float = DONE_WEIGHT.field()
    error_weight: float = ERROR_WEIGHT.field()
    done_positive_weight: float = DONE_POSITIVE_WEIGHT.field()
    heads_only: bool = HEADS_ONLY.field()

    def __post_init__(self):
        for name in ("reward_weight", "done_weight", "error_weight", "done_positive_weight"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")


class HeadTargets(NamedTuple):
    """What the heads learn on a batch of sequences.

    Attributes:
        rewards: (B, L - 1) float rewards of the transitions.
        episode_ends: (B, L - 1) bool, or None (no transition ended an episode).
        weights: the :class:`HeadWeights`.
    """

    rewards: object
    episode_ends: Optional[object]
    weights: HeadWeights


class HeadSteps:
    """The trained steps of one loss computation, for the heads: see the module docstring."""

    def __init__(self):
        self.hiddens, self.errors, self.positions, self.frames = [], [], [], []

    def add(self, hiddens, predictions, targets, first, batch):
        """Record ``len(hiddens) // batch`` steps from sequence position ``first`` on.

        Args:
            hiddens: (n * B, features) transition outputs, time-major.
            predictions, targets: (n * B, C, H, W) normalised frames (Variables or arrays).
            first: sequence position of the first of these steps.
            batch: B.
        """
        squared = F.squared_difference(chainer.as_array(predictions), chainer.as_array(targets))
        self.errors.append(F.mean(F.reshape(squared, (len(hiddens), -1)), axis=1).array)
        self.hiddens.append(hiddens)
        self.frames.append(chainer.as_array(predictions))
        self.positions.extend(range(first, first + len(hiddens) // batch))

    def loss(self, simulator, targets: HeadTargets):
        """``(weighted heads loss Variable, metrics dict)`` over the recorded steps."""
        xp = simulator.xp
        positions = np.asarray(self.positions)
        rewards = np.asarray(chainer.backends.cuda.to_cpu(targets.rewards))[:, positions].T.reshape(-1)
        classes = xp.asarray(reward_classes(rewards))
        ends = targets.episode_ends
        ends = np.zeros_like(rewards, dtype=np.int32) if ends is None else (
            np.asarray(chainer.backends.cuda.to_cpu(ends))[:, positions].T.reshape(-1).astype(np.int32))
        frames = xp.concatenate(self.frames) if simulator.heads_read_frames else None
        hiddens = F.concat(self.hiddens, axis=0)
        if targets.weights.heads_only:
            hiddens = hiddens.array
        reward_logits, done_logit, log_error = simulator.state_heads(hiddens, frames)
        errors = xp.concatenate(self.errors)
        reward_loss = F.softmax_cross_entropy(reward_logits, classes)
        weights = targets.weights
        ends = xp.asarray(ends)
        step_weights = (1.0 + (weights.done_positive_weight - 1.0) * ends).astype(np.float32)
        done_loss = F.sum(F.sigmoid_cross_entropy(done_logit, ends, reduce="no") * step_weights) / float(len(ends))
        error_loss = F.mean_squared_error(log_error, xp.log(errors + ERROR_FLOOR).astype(np.float32))
        total = weights.reward_weight * reward_loss + weights.done_weight * done_loss + weights.error_weight * error_loss
        metrics = dict(reward_loss=float(reward_loss.array), done_loss=float(done_loss.array),
                       error_loss=float(error_loss.array),
                       reward_accuracy=float((reward_logits.array.argmax(axis=1) == classes).mean()))
        return total, metrics
