"""Deconvolutional decoder from the LSTM output to a frame (gray or RGB)."""
import chainer
import chainer.functions as F
import chainer.links as L

from recurrent_sim.models import fast_conv
from recurrent_sim.models.split_linear import split_linear


class FrameDecoder(chainer.Chain):
    """Mirror of :class:`FrameEncoder`: a fully connected layer, then one
    deconvolution per encoder convolution, whose output sizes retrace the encoder's.

    Input: (batch, config.hidden_size) float32 LSTM output ``h``.
    Output: (batch, config.channels, height, width) float32 frame in normalised pixel units
    (pixel / 255 minus the mean image); no output nonlinearity.

    Its deconvolutions run channels-last on the CPU and are Chainer's own
    elsewhere, as the encoder's convolutions (see :class:`FrameEncoder`).
    """

    def __init__(self, config):
        super().__init__()
        shapes = config.feature_shapes()
        channels = config.conv_channels
        self.top_shape = (channels[-1],) + tuple(shapes[-1])
        out_channels = list(channels[:-1])[::-1] + [config.channels]
        in_channels = channels[-1]
        layers = list(zip(config.conv_kernels, config.conv_strides, config.conv_pads, shapes[:-1]))[::-1]
        with self.init_scope():
            self.fc = L.Linear(
                config.hidden_size,
                self.top_shape[0] * self.top_shape[1] * self.top_shape[2],
            )
            self.deconvs = chainer.ChainList()
            for out_ch, (kernel, stride, pad, outsize) in zip(out_channels, layers):
                self.deconvs.append(
                    L.Deconvolution2D(in_channels, out_ch, kernel, stride, pad, outsize=tuple(outsize))
                )
                in_channels = out_ch

    def forward(self, hidden):
        h = F.relu(split_linear(self.fc, hidden))
        h = F.reshape(h, (h.shape[0],) + self.top_shape)
        channels_last = fast_conv.fast_path(self.xp)
        if channels_last:
            h = F.transpose(h, (0, 2, 3, 1))
        last = len(self.deconvs) - 1
        for i, deconv in enumerate(self.deconvs):
            if channels_last:
                h = fast_conv.deconvolution_2d_nhwc(
                    h, deconv.W, deconv.b, deconv.stride, deconv.pad, deconv.outsize, relu=i < last
                )
            else:
                h = deconv(h)
                if i < last:
                    h = F.relu(h)
        if channels_last:
            if h.shape[3] == 1:  # (B, H, W, 1) and (B, 1, H, W) share their memory order
                h = F.reshape(h, (h.shape[0], 1) + h.shape[1:3])
            else:
                h = F.transpose(h, (0, 3, 1, 2))
        return h
