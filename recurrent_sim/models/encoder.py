"""Convolutional encoder of single frames (gray or RGB)."""
import chainer
import chainer.functions as F
import chainer.links as L

from recurrent_sim.models import fast_conv
from recurrent_sim.models.split_linear import split_linear


class FrameEncoder(chainer.Chain):
    """The convolutions of ``config`` (the paper's: four, stride 2) and a fully connected layer, ReLU after each.

    Input: (batch, config.channels, height, width) float32 normalised frames
    (1 channel gray, 3 RGB).
    Output: (batch, config.encoding_size) float32 encoding ``z``.

    On the CPU the convolutions run channels-last through
    :mod:`recurrent_sim.models.fast_conv` (same parameters, same result); on
    a GPU, and under ``chainer.using_config("fast_cpu_conv", False)``, they
    are Chainer's own.
    """

    def __init__(self, config):
        super().__init__()
        last_h, last_w = config.feature_shapes()[-1]
        with self.init_scope():
            in_channels = config.channels
            self.convs = chainer.ChainList()
            layers = zip(config.conv_channels, config.conv_kernels, config.conv_strides, config.conv_pads)
            for out_channels, kernel, stride, pad in layers:
                self.convs.append(L.Convolution2D(in_channels, out_channels, kernel, stride, pad))
                in_channels = out_channels
            self.fc = L.Linear(in_channels * last_h * last_w, config.encoding_size)

    def forward(self, frames):
        if fast_conv.fast_path(self.xp):
            return self._forward_channels_last(frames)
        h = frames
        for conv in self.convs:
            h = F.relu(conv(h))
        return F.relu(self.fc(h))

    def _forward_channels_last(self, frames):
        batch, channels, height, width = frames.shape
        if channels == 1:  # (B, 1, H, W) and (B, H, W, 1) share their memory order
            h = F.reshape(frames, (batch, height, width, channels))
        else:
            h = F.transpose(frames, (0, 2, 3, 1))
        for conv in self.convs:
            h = fast_conv.convolution_2d_nhwc(h, conv.W, conv.b, conv.stride, conv.pad, relu=True)
        # The fully connected layer reads the features in (C, H, W) order.
        return F.relu(split_linear(self.fc, F.transpose(h, (0, 3, 1, 2))))
