"""Skip simulator: the action LSTM with encoder-to-decoder skips and a residual output.

The paper's network squeezes each frame through a fully connected code and
redraws the whole frame from the LSTM output; on a CPU budget it learns the
average picture long before it learns where small objects move. This
architecture keeps the encoder -> action LSTM -> decoder structure and adds
three things that let it learn local motion in a few hundred updates:

* **skips**: each decoder level adds the encoder's feature map of the same
  size (of the current input frame), so the decoder can move what it sees
  instead of redrawing it from the code;
* **action-conditioned decoder**: an embedding of the action is added to
  every hidden decoder level (a per-channel bias), so the action reaches the
  pixels directly, not only through the LSTM;
* **residual output**: the decoder predicts the change to the input frame;
  its last layer starts at zero, so an untrained model repeats the last
  frame. The prediction is clipped to the valid pixel range, so fed-back
  predictions stay images.

Frames: (batch, C, H, W) float32 normalised (pixel / 255 minus the mean
image; C = 1 gray, 3 RGB). State: ``(c, h)``, each (batch, hidden_size) float32, as for
:class:`recurrent_sim.models.simulator.Simulator`.

Registered as the architecture ``"skip"``; its default layers
(:data:`SKIP_LAYERS`: 32, 32, 64, 64 filters of 4, 4, 3, 3 pixels at stride
2) cost about a third of the paper network's arithmetic per frame.
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers

from recurrent_sim.models import fast_conv
from recurrent_sim.models.action_lstm import ActionLSTM
from recurrent_sim.models.simulator_base import SimulatorBase
from recurrent_sim.models.split_linear import split_linear

SKIP_ARCHITECTURE = "skip"
# Default layers of the skip architecture (84x84 -> 42, 21, 11, 6).
SKIP_LAYERS = dict(conv_channels=(32, 32, 64, 64), conv_kernels=(4, 4, 3, 3), conv_pads=(1, 1, 1, 1),
                   conv_strides=(2, 2, 2, 2))
# Switches of the three additions, in config.options (all on by default).
SKIP_OPTIONS = ("skips", "residual", "action_bias")
# The option that gives the encoder the previous frame beside the current one (off by default).
PREVIOUS_FRAME = "previous_frame"


class SkipSimulator(SimulatorBase):
    """Encoder -> action LSTM -> decoder with skips, action biases and a residual output.

    Args:
        config: a :class:`recurrent_sim.models.config.SimulatorConfig` whose
            conv layers (channels, kernels, strides, pads) define the
            encoder; the decoder mirrors them. ``config.options`` may switch
            off the three additions (for ablations): ``{"skips": False}``,
            ``{"residual": False}``, ``{"action_bias": False}``.
    """

    #: the names ``config.options`` may hold; a subclass with other outputs extends them.
    OPTIONS = SKIP_OPTIONS + (PREVIOUS_FRAME,)
    #: whether the encoder sees the previous frame too when the options do not say
    PREVIOUS_FRAME_DEFAULT = False

    def __init__(self, config, output_channels=None):
        super().__init__(config)
        output_channels = config.channels if output_channels is None else output_channels
        unknown = set(config.options) - set(self.OPTIONS)
        if unknown:
            raise ValueError(f"unknown options of the {config.architecture} architecture: {sorted(unknown)}")
        self.skips, self.residual, self.action_bias = (
            name in self.OPTIONS and bool(config.options.get(name, True)) for name in SKIP_OPTIONS
        )
        self.previous_frame = bool(config.options.get(PREVIOUS_FRAME, self.PREVIOUS_FRAME_DEFAULT))
        shapes = config.feature_shapes()
        self.shapes = shapes
        channels = config.conv_channels
        layers = list(zip(config.conv_kernels, config.conv_strides, config.conv_pads))
        top_h, top_w = shapes[-1]
        self.top_shape = (top_h, top_w, channels[-1])
        out_channels = list(channels[:-1])[::-1] + [output_channels]
        with self.init_scope():
            self.encoder_convs = chainer.ChainList()
            in_ch = config.channels * (2 if self.previous_frame else 1)
            for out_ch, (kernel, stride, pad) in zip(channels, layers):
                self.encoder_convs.append(L.Convolution2D(in_ch, out_ch, kernel, stride, pad))
                in_ch = out_ch
            self.encoder_fc = L.Linear(channels[-1] * top_h * top_w, config.encoding_size)
            self.transition_lstm = ActionLSTM(
                config.encoding_size, config.hidden_size, config.n_actions, config.factor_size
            )
            self.decoder_fc = L.Linear(config.hidden_size, channels[-1] * top_h * top_w)
            self.decoder_deconvs = chainer.ChainList()
            in_ch = channels[-1]
            for i, (out_ch, (kernel, stride, pad)) in enumerate(zip(out_channels, layers[::-1])):
                last = i == len(out_channels) - 1
                initial = initializers.Zero() if last and self.residual else None
                self.decoder_deconvs.append(
                    L.Deconvolution2D(in_ch, out_ch, kernel, stride, pad, initialW=initial)
                )
                in_ch = out_ch
            if self.action_bias:
                self.action_biases = chainer.ChainList(
                    *[
                        L.EmbedID(config.n_actions, ch, initialW=initializers.Zero())
                        for ch in out_channels[:-1]
                    ]
                )

    # ----- pieces ----------------------------------------------------------
    def _encode_maps(self, frames, previous=None):
        """(N, C, H, W) frames (and the frames before them, with ``previous_frame``) ->
        code (N, encoding_size) and NHWC feature maps."""
        n = frames.shape[0]
        if self.previous_frame:
            h = F.transpose(F.concat([previous, frames], axis=1), (0, 2, 3, 1))
        elif frames.shape[1] == 1:  # (N, 1, H, W) and (N, H, W, 1) share their memory order
            h = F.reshape(frames, (n,) + tuple(frames.shape[2:]) + (1,))
        else:
            h = F.transpose(frames, (0, 2, 3, 1))
        maps = []
        fast = fast_conv.fast_path(self.xp)
        for conv in self.encoder_convs:
            if fast:
                h = fast_conv.convolution_2d_nhwc(h, conv.W, conv.b, conv.stride, conv.pad, relu=True)
            else:
                h = F.transpose(F.relu(conv(F.transpose(h, (0, 3, 1, 2)))), (0, 2, 3, 1))
            maps.append(h)
        code = F.relu(split_linear(self.encoder_fc, F.reshape(h, (n, -1))))
        return code, maps

    def _run_steps(self, frames, actions, state):
        """The transitions of (B, T, C, H, W) real frames and (B, T) actions.

        Returns the frames time-major (T * B, C, H, W), the frames before them
        (the same shape, with ``previous_frame``; else None), the feature maps,
        the transition outputs (T * B, hidden_size) time-major, and the new state.
        """
        batch, steps = frames.shape[:2]
        merged = F.reshape(F.transpose(frames, (1, 0, 2, 3, 4)), (steps * batch,) + tuple(frames.shape[2:]))
        previous = None
        if self.previous_frame:  # step t's previous frame is step t - 1's; step 0's is in the state
            previous = F.concat([state[2], merged[: (steps - 1) * batch]], axis=0)
        codes, maps = self._encode_maps(merged, previous)
        lstm_state, hiddens = state[:2], []
        for t in range(steps):
            hidden, lstm_state = self.transition_lstm(codes[t * batch : (t + 1) * batch], actions[:, t], lstm_state)
            hiddens.append(hidden)
        return merged, previous, maps, F.concat(hiddens, axis=0), self._next_state(lstm_state, merged[-batch:])

    def _next_state(self, lstm_state, frames):
        """The state after a step on (B, C, H, W) ``frames``: the LSTM's, and the frames with ``previous_frame``."""
        return tuple(lstm_state) + ((frames,) if self.previous_frame else ())

    def _decode(self, hidden, maps, actions, frames, previous=None):
        """Prediction (N, C, H, W) from LSTM output, skip maps, actions and input frames
        (``previous``, the frames before them, is for subclasses)."""
        prediction = self._decode_levels(hidden, maps, actions)
        if prediction.shape[3] == 1:  # (N, H, W, 1) and (N, 1, H, W) share their memory order
            prediction = F.reshape(prediction, (prediction.shape[0], 1) + tuple(prediction.shape[1:3]))
        else:
            prediction = F.transpose(prediction, (0, 3, 1, 2))
        if self.residual:
            prediction = prediction + frames
        return self.clip_to_pixels(prediction)

    def _decode_levels(self, hidden, maps, actions):
        """The decoder's last level, (N, H, W, output_channels) NHWC, before any activation."""
        n = hidden.shape[0]
        h = F.reshape(F.relu(split_linear(self.decoder_fc, hidden)), (n,) + self.top_shape)
        levels = len(self.decoder_deconvs)
        fast = fast_conv.fast_path(self.xp)
        for i, deconv in enumerate(self.decoder_deconvs):
            if self.skips:
                h = h + maps[levels - 1 - i]
            outsize = tuple(self.shapes[levels - 1 - i])
            if fast:
                h = fast_conv.deconvolution_2d_nhwc(
                    h, deconv.W, deconv.b, deconv.stride, deconv.pad, outsize
                )
            else:
                deconv.outsize = outsize
                h = F.transpose(deconv(F.transpose(h, (0, 3, 1, 2))), (0, 2, 3, 1))
            if i < levels - 1:
                if self.action_bias:
                    bias = F.reshape(self.action_biases[i](actions), (n, 1, 1, -1))
                    h = h + F.broadcast_to(bias, h.shape)
                h = F.relu(h)
        return h

    # ----- SimulatorBase interface -----------------------------------------
    def initial_state(self, batch_size):
        """Zero recurrent state ``(c, h)`` for ``batch_size`` games; with ``previous_frame`` also
        the previous frames, (batch, C, H, W) zeros (the mean image) before the first step."""
        state = self.transition_lstm.initial_state(batch_size)
        if self.previous_frame:
            state = tuple(state) + (self.xp.zeros((batch_size, self.config.channels) + self.config.frame_shape,
                                                   dtype=np.float32),)
        return state

    def encode(self, frames):
        """(batch, C, H, W) normalised frames -> (batch, encoding_size) code (maps dropped)."""
        if self.previous_frame:
            raise NotImplementedError("with previous_frame the encoder needs the frames before these; "
                                      "use predict(), warm_up() or observe()")
        return self._encode_maps(frames)[0]

    def transition(self, encoding, actions, state):
        """(batch, encoding_size), (batch,) int32, state -> (h, new state)."""
        hidden, lstm_state = self.transition_lstm(encoding, actions, state[:2])
        return hidden, tuple(lstm_state) + tuple(state[2:])

    def decode(self, hidden):
        """Not available: this decoder also needs the input frame and its feature maps."""
        raise NotImplementedError(
            "the skip architecture decodes from the LSTM output together with the input frame; "
            "use predict() or observe()"
        )

    def warm_up(self, frames, actions, state):
        """Consume (B, T, C, H, W) real frames and (B, T) int32 actions; return the new state."""
        return self._run_steps(frames, actions, state)[-1]

    def observe_steps(self, frames, actions, state):
        """Observation-dependent steps on (B, T, C, H, W) real frames.

        Returns predictions (T * B, C, H, W) and transition outputs (T * B,
        hidden_size), both time-major, and the new state.
        """
        merged, previous, maps, hiddens, state = self._run_steps(frames, actions, state)
        time_major_actions = self.xp.ascontiguousarray(actions.T).reshape(-1)
        predictions = self._decode(hiddens, maps, time_major_actions, merged, previous)
        return predictions, hiddens, state

    def predict(self, frames, actions, state):
        """One step from (B, C, H, W) frames and (B,) actions: prediction and new state."""
        previous = state[2] if self.previous_frame else None
        code, maps = self._encode_maps(frames, previous)
        hidden, lstm_state = self.transition_lstm(code, actions, state[:2])
        return self._decode(hidden, maps, actions, frames, previous), self._next_state(lstm_state, frames)
