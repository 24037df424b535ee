"""The agent's network: a convolutional head with a softmax policy and a value.

Input: (batch, n_frames, height, width) float32 stacked gray frames in
[0, 1]. Two convolutions (16 8x8 filters stride 4, 32 4x4 filters stride
2) and a 256-unit fully connected layer, all with guided-backprop ReLUs
(:mod:`recurrent_sim.models.guided_relu`), feed a softmax policy over the
game's actions and a scalar state value (the A3C head of Mnih et al., 2016).
"""
import chainer
import chainer.links as L
import numpy as np
from chainerrl.agents.a3c import A3CModel
from chainerrl.distribution import SoftmaxDistribution

from recurrent_sim.models.config import conv_output_size
from recurrent_sim.models.guided_relu import guided_relu

HEAD_CHANNELS = (16, 32)
HEAD_KERNELS = (8, 4)
HEAD_STRIDES = (4, 2)
HEAD_UNITS = 256


def head_output_shape(frame_shape):
    """Spatial (height, width) after the two convolutions of the head."""
    h, w = frame_shape
    for kernel, stride in zip(HEAD_KERNELS, HEAD_STRIDES):
        h, w = conv_output_size(h, kernel, stride, 0), conv_output_size(w, kernel, stride, 0)
    return h, w


# Smallest frame side whose feature map after the head's convolutions is not empty.
MIN_FRAME_SIZE = next(size for size in range(1, 1000) if min(head_output_shape((size, size))) >= 1)


class AgentNetwork(chainer.Chain, A3CModel):
    """A3C model: ``pi_and_v(obs) -> (SoftmaxDistribution, (batch, 1) values)``.

    Args:
        n_actions: number of discrete actions.
        obs_shape: (n_frames, height, width) of an observation; height and
            width must be at least ``MIN_FRAME_SIZE`` (20) pixels.
    """

    def __init__(self, n_actions, obs_shape=(4, 84, 84)):
        super().__init__()
        obs_shape = tuple(int(s) for s in obs_shape)
        if len(obs_shape) != 3 or min(obs_shape[1:]) < MIN_FRAME_SIZE or obs_shape[0] < 1:
            raise ValueError(f"obs_shape must be (n_frames >= 1, height >= {MIN_FRAME_SIZE}, "
                             f"width >= {MIN_FRAME_SIZE}), got {obs_shape}")
        if int(n_actions) < 1:
            raise ValueError(f"n_actions must be positive, got {n_actions}")
        self.n_actions = int(n_actions)
        self.obs_shape = obs_shape
        h, w = head_output_shape(obs_shape[1:])
        with self.init_scope():
            self.conv1 = L.Convolution2D(obs_shape[0], HEAD_CHANNELS[0], HEAD_KERNELS[0],
                                         stride=HEAD_STRIDES[0], initial_bias=0.1)
            self.conv2 = L.Convolution2D(HEAD_CHANNELS[0], HEAD_CHANNELS[1], HEAD_KERNELS[1],
                                         stride=HEAD_STRIDES[1], initial_bias=0.1)
            self.fc = L.Linear(HEAD_CHANNELS[1] * h * w, HEAD_UNITS, initial_bias=0.1)
            self.policy = L.Linear(HEAD_UNITS, self.n_actions,
                                   initialW=chainer.initializers.LeCunNormal(1e-2))
            self.value = L.Linear(HEAD_UNITS, 1)

    def features(self, obs):
        """(batch, n_frames, H, W) float32 -> (batch, 256) features."""
        h = guided_relu(self.conv1(obs))
        h = guided_relu(self.conv2(h))
        return guided_relu(self.fc(h))

    def logits(self, obs):
        """(batch, n_frames, H, W) float32 -> (batch, n_actions) policy logits."""
        return self.policy(self.features(obs))

    def pi_and_v(self, obs):
        """Policy distribution and (batch, 1) state values of a batch of observations."""
        h = self.features(obs)
        return SoftmaxDistribution(self.policy(h)), self.value(h)


def saliency(network, obs, action=None):
    """Guided-backprop saliency of the policy with respect to its input.

    Args:
        network: an :class:`AgentNetwork`.
        obs: (n_frames, H, W) float32 observation as the network sees it.
        action: the action whose logit is explained; the most probable one
            when None.
    Returns:
        (action, (n_frames, H, W) float32 gradient of that action's logit
        with respect to each input pixel, guided).
    """
    from recurrent_sim.models.guided_relu import guided_backprop

    xp = network.xp
    x = chainer.Variable(xp.asarray(obs, dtype=np.float32)[None])
    with chainer.using_config("train", False), chainer.force_backprop_mode():
        logits = network.logits(x)
        if action is None:
            action = int(chainer.backends.cuda.to_cpu(logits.array[0]).argmax())
        selected = logits[0, int(action)]
        network.cleargrads()
        with guided_backprop():
            selected.backward()
    grad = chainer.backends.cuda.to_cpu(x.grad[0])
    network.cleargrads()
    return int(action), grad.astype(np.float32)
