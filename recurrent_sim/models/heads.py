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
existed. What they read is ``SimulatorConfig.head_input``: ``"state"``, the
LSTM output alone, or ``"frame"``, the LSTM output and the frame just
predicted. In games whose reward and end follow from where the objects are
(BlockWorld: the square touching the ball, the ball at the bottom wall), a
small convolution over the predicted frame finds the event; the LSTM output
holds the objects' places only implicitly. The frame reaches the heads
without a gradient path, so the heads' losses never change the frames.
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
#: What the heads may read (``SimulatorConfig.head_input``).
HEAD_INPUTS = ("state", "frame")
#: Channels of the frame features: the maximum over the frame of each last convolution's map.
FRAME_FEATURES = 32


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
    """Three small heads over the LSTM output ``h`` (batch, hidden_size), and the frame just predicted.

    A shared hidden layer of ``width`` ReLU units, then a linear reward head
    (3 logits), an episode-end head (1 logit) and a log-error head; the
    error estimate is ``exp(log_error)``, so it is positive and a squared
    error in log space trains it (errors span orders of magnitude).

    With ``frame_channels`` > 0 the shared layer also reads
    :data:`FRAME_FEATURES` features of the predicted frame: three ReLU
    convolutions (8 5x5, 16 3x3 at stride 2, 32 3x3 at stride 2) over the frame and
    two coordinate planes (y and x from -1 to 1, so that a place such as the
    bottom wall can be recognised), then the maximum of each map over the
    frame (an event anywhere in the frame counts).
    """

    def __init__(self, hidden_size: int, width: int = 64, frame_channels: int = 0):
        super().__init__()
        self.frame_channels = int(frame_channels)
        with self.init_scope():
            self.shared = L.Linear(hidden_size + (FRAME_FEATURES if self.frame_channels else 0), width)
            self.reward = L.Linear(width, len(REWARD_CLASSES))
            self.done = L.Linear(width, 1)
            self.log_error = L.Linear(width, 1)
            if self.frame_channels:
                self.frame_conv1 = L.Convolution2D(self.frame_channels + 2, 8, 5, pad=2)
                self.frame_conv2 = L.Convolution2D(8, 16, 3, stride=2, pad=1)
                self.frame_conv3 = L.Convolution2D(16, FRAME_FEATURES, 3, stride=2, pad=1)

    def frame_features(self, frames):
        """(batch, channels, H, W) normalised predicted frames -> (batch, FRAME_FEATURES) Variable.

        The frames are taken as arrays: no gradient flows back into them."""
        frames = chainer.as_array(frames)
        xp = chainer.backends.cuda.get_array_module(frames)
        batch, _, height, width = frames.shape
        ys = xp.broadcast_to(xp.linspace(-1, 1, height, dtype=np.float32)[:, None], (height, width))
        xs = xp.broadcast_to(xp.linspace(-1, 1, width, dtype=np.float32)[None, :], (height, width))
        planes = xp.broadcast_to(xp.stack([ys, xs])[None], (batch, 2, height, width))
        h = F.relu(self.frame_conv1(xp.concatenate([frames.astype(np.float32), planes], axis=1)))
        h = F.relu(self.frame_conv3(F.relu(self.frame_conv2(h))))
        return F.max(h, axis=(2, 3))

    def forward(self, hidden, frames=None):
        """(batch, hidden_size) [and (batch, C, H, W) predicted frames when the heads read them]
        -> (reward_logits (B, 3), done_logit (B,), log_error (B,))."""
        if self.frame_channels:
            if frames is None:
                raise ValueError("these heads read the predicted frame: pass the frames")
            hidden = F.concat([hidden, self.frame_features(frames)], axis=1)
        features = F.relu(self.shared(hidden))
        return self.reward(features), F.reshape(self.done(features), (-1,)), F.reshape(self.log_error(features), (-1,))

    def outputs(self, hidden, frames=None) -> HeadOutputs:
        """:class:`HeadOutputs` of (batch, hidden_size) LSTM outputs [and the predicted frames]."""
        reward_logits, done_logit, log_error = self.forward(hidden, frames)
        return HeadOutputs(reward_logits, done_logit, F.exp(log_error))
