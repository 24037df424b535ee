"""Deconvolutional decoder from the LSTM output to a gray frame."""
import chainer
import chainer.functions as F
import chainer.links as L

from recurrent_sim.models.config import CONV_CHANNELS, CONV_KERNELS, CONV_PADS, CONV_STRIDE


class FrameDecoder(chainer.Chain):
    """Mirror of :class:`FrameEncoder`: a fully connected layer, then four
    stride-2 deconvolutions whose output sizes retrace the encoder's.

    Input: (batch, config.hidden_size) float32 LSTM output ``h``.
    Output: (batch, 1, height, width) float32 frame in normalised pixel units
    (pixel / 255 minus the mean image); no output nonlinearity.
    """

    def __init__(self, config):
        super().__init__()
        shapes = config.feature_shapes()
        self.top_shape = (CONV_CHANNELS[-1],) + tuple(shapes[-1])
        out_channels = list(CONV_CHANNELS[:-1])[::-1] + [1]
        in_channels = CONV_CHANNELS[-1]
        layers = list(zip(CONV_KERNELS, CONV_PADS, shapes[:-1]))[::-1]
        with self.init_scope():
            self.fc = L.Linear(
                config.hidden_size,
                self.top_shape[0] * self.top_shape[1] * self.top_shape[2],
            )
            self.deconvs = chainer.ChainList()
            for out_ch, (kernel, pad, outsize) in zip(out_channels, layers):
                self.deconvs.append(
                    L.Deconvolution2D(
                        in_channels, out_ch, kernel, CONV_STRIDE, pad, outsize=tuple(outsize)
                    )
                )
                in_channels = out_ch

    def forward(self, hidden):
        h = F.relu(self.fc(hidden))
        h = F.reshape(h, (h.shape[0],) + self.top_shape)
        last = len(self.deconvs) - 1
        for i, deconv in enumerate(self.deconvs):
            h = deconv(h)
            if i < last:
                h = F.relu(h)
        return h
