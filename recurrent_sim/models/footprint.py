"""Memory footprints of the networks, computed from their settings without building them.

Used by the commands to refuse, before allocating anything, sizes that
cannot fit (see :mod:`recurrent_sim.utils.memory`). Parameter counts are
exact (the tests compare them with built networks); activation memory is an
upper estimate of what one training batch keeps for the backward pass.
"""
import numpy as np

from recurrent_sim.models.agent_network import HEAD_CHANNELS, HEAD_KERNELS, HEAD_UNITS, head_output_shape
from recurrent_sim.models.config import SimulatorConfig

FLOAT_BYTES = 4
MAX_ACTIONS = 18  # the most actions an Atari game has: estimates made with it hold for every game
# Arrays per parameter while training: the value, its gradient and the optimizer's state.
OPTIMIZER_SLOTS = {"adam": 2, "rmsprop_graves": 3, None: 0}
# Float arrays of a feature map's size kept per layer and step for the backward pass
# (measured: about 1.3 on the CPU fast path), an upper bound for both conv paths.
ACTIVATION_COPIES = 2


def simulator_parameter_count(config: SimulatorConfig) -> int:
    """Number of float32 parameters of a simulator with ``config``: exact for the ``paper`` and
    ``original`` architectures (encoder, action LSTM, mirrored decoder); the ``skip`` architecture
    adds a few biases (under 0.1%)."""
    shapes = config.feature_shapes()
    channels = (config.channels,) + config.conv_channels
    layers = list(zip(config.conv_kernels, channels, channels[1:]))
    convs = sum(k * k * c_in * c_out + c_out for k, c_in, c_out in layers)
    # The decoder's deconvolutions mirror the convolutions: same weights, biases of their inputs' channels.
    deconvs = sum(k * k * c_in * c_out + c_in for k, c_in, c_out in layers)
    top = config.conv_channels[-1] * shapes[-1][0] * shapes[-1][1]
    hidden, factor, encoding = config.hidden_size, config.factor_size, config.encoding_size
    encoder_fc = top * encoding + encoding
    lstm = (hidden * factor + factor) + config.n_actions * factor  # hidden -> factor, action embedding
    lstm += factor * 4 * hidden + encoding * 4 * hidden + 4 * hidden  # the gates
    decoder_fc = hidden * top + top
    return convs + encoder_fc + lstm + decoder_fc + deconvs


def simulator_activation_floats(config: SimulatorConfig) -> int:
    """Floats of the feature maps of one frame through encoder, LSTM and decoder."""
    shapes = config.feature_shapes()
    maps = sum(c * h * w for c, (h, w) in zip((config.channels,) + config.conv_channels, shapes))
    vectors = config.encoding_size + 2 * config.factor_size + 10 * config.hidden_size
    return 2 * maps + vectors


def simulator_bytes(config: SimulatorConfig, optimizer=None, batch_size=1, steps=1) -> int:
    """Bytes to hold a simulator and run ``batch_size`` sequences of ``steps`` steps.

    Args:
        config: the simulator's settings.
        optimizer: 'adam', 'rmsprop_graves', or None when not training
            (then no gradient, optimizer state or stored activations).
        batch_size: sequences (or games) stepped together.
        steps: steps whose activations are kept for the backward pass.
    """
    parameters = simulator_parameter_count(config)
    if optimizer is None:
        return FLOAT_BYTES * (parameters + ACTIVATION_COPIES * batch_size * simulator_activation_floats(config))
    arrays = 2 + OPTIMIZER_SLOTS[optimizer]
    activations = ACTIVATION_COPIES * batch_size * steps * simulator_activation_floats(config)
    return FLOAT_BYTES * (arrays * parameters + activations)


def agent_parameter_count(obs_shape, n_actions) -> int:
    """Number of float32 parameters of an :class:`AgentNetwork`."""
    n_frames, height, width = obs_shape
    h, w = head_output_shape((height, width))
    c1, c2 = HEAD_CHANNELS
    k1, k2 = HEAD_KERNELS
    convs = k1 * k1 * n_frames * c1 + c1 + k2 * k2 * c1 * c2 + c2
    return convs + c2 * h * w * HEAD_UNITS + HEAD_UNITS + HEAD_UNITS * (n_actions + 1) + n_actions + 1


def agent_bytes(obs_shape, n_actions, learning=False) -> int:
    """Bytes of an agent network (with gradients and RMSProp state when ``learning``) and one observation."""
    n_frames, height, width = obs_shape
    arrays = 5 if learning else 1  # learning: shared and local copies, gradients, RMSProp state
    observation = 4 * n_frames * height * width  # uint8 stack, float copy, first conv's input
    return FLOAT_BYTES * (arrays * agent_parameter_count(obs_shape, n_actions) + observation)


def sample_buffer_bytes(capacity, frame_shape) -> int:
    """Bytes of a :class:`recurrent_sim.data.SampleBuffer` of ``capacity`` transitions of
    uint8 frames of ``frame_shape``, (H, W) or (C, H, W) (frame, int32 action, float32 reward, bool end
    per transition)."""
    return int(capacity) * (int(np.prod(frame_shape)) + 9)
