"""Reward, episode-end and self-error heads on the simulator's recurrent state.

With them a simulator is a whole game: after a step that predicts frame
t + 1 from frame t and action t, the heads read the new state and predict

* the reward of that transition, as a class over (negative, zero, positive)
  (:data:`REWARD_CLASSES`; the sign of the game's reward, Atari rewards
  being sparse counts);
* whether that transition ended the episode;
* the mean squared error per pixel (pixels in [0, 1]) of the frame just
  predicted: the simulator's estimate of its own drift, available without
  the real game.

The heads are optional (``SimulatorConfig.heads``): a simulator built
without them has no such links and loads checkpoints saved before they
existed.
"""
from typing import NamedTuple

import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np

#: Reward classes, in the order of the reward logits.
REWARD_CLASSES = ("negative", "zero", "positive")
NEGATIVE, ZERO, POSITIVE = 0, 1, 2
#: Added to the error before its logarithm (squared error per pixel in [0, 1]).
ERROR_FLOOR = 1e-6


class HeadOutputs(NamedTuple):
    """What the heads predict for a batch of B games (arrays or Variables).

    Attributes:
        reward_logits: (B, 3) float32 logits over (negative, zero, positive)
            reward of the transition just made.
        done_logit: (B,) float32 logit that this transition ended the episode.
        error_estimate: (B,) float32 >= 0, predicted mean squared error per
            pixel (pixels in [0, 1]) of the frame just predicted: the drift signal.
    """

    reward_logits: object
    done_logit: object
    error_estimate: object


def reward_classes(rewards):
    """(...) float rewards -> (...) int32 class index: 0 negative, 1 zero, 2 positive."""
    rewards = np.asarray(chainer.backends.cuda.to_cpu(rewards))
    return (np.sign(rewards).astype(np.int32) + 1).astype(np.int32)


def class_rewards(classes):
    """Inverse of :func:`reward_classes`: (...) class indices -> (...) float32 rewards -1, 0 or 1."""
    return np.asarray(classes, dtype=np.float32) - 1.0


class StateHeads(chainer.Chain):
    """Three small heads over the LSTM output ``h`` (batch, hidden_size).

    A shared hidden layer of ``width`` ReLU units, then a linear reward head
    (3 logits), an episode-end head (1 logit) and a log-error head; the
    error estimate is ``exp(log_error)``, so it is positive and a squared
    error in log space trains it (errors span orders of magnitude).
    """

    def __init__(self, hidden_size: int, width: int = 64):
        super().__init__()
        with self.init_scope():
            self.shared = L.Linear(hidden_size, width)
            self.reward = L.Linear(width, len(REWARD_CLASSES))
            self.done = L.Linear(width, 1)
            self.log_error = L.Linear(width, 1)

    def forward(self, hidden):
        """(batch, hidden_size) -> (reward_logits (B, 3), done_logit (B,), log_error (B,))."""
        features = F.relu(self.shared(hidden))
        return self.reward(features), F.reshape(self.done(features), (-1,)), F.reshape(self.log_error(features), (-1,))

    def outputs(self, hidden) -> HeadOutputs:
        """:class:`HeadOutputs` of (batch, hidden_size) LSTM outputs."""
        reward_logits, done_logit, log_error = self.forward(hidden)
        return HeadOutputs(reward_logits, done_logit, F.exp(log_error))
