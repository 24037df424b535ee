"""Motion simulator: predict how the last frame's pixels move, not the pixels themselves.

Under a squared error, a decoder that redraws a small object it is unsure
of paints a faint blur, and fed-back blurs fade to nothing within a few
steps. This architecture (after the CDNA model of Finn, Goodfellow and
Levine, NIPS 2016) keeps the skip architecture's encoder, action LSTM and
decoder, but its output is a choice among *moved copies of the last frame*:

* from the LSTM output, ``kernels`` normalised k x k kernels (a softmax over
  the k * k taps each): each moves the whole last frame by one learned
  displacement (for an integer shift, a one-hot kernel), so one kernel can
  carry the ball along its velocity and another the player's object by the
  action;
* from the decoder's full-size level and the last frame, per-pixel masks
  (a softmax over ``kernels + 2`` candidates): the last frame as it is, each
  moved copy, and one synthesized image (for what no copy holds, such as an
  object that appears);
* the prediction is the masked sum of the candidates, a per-pixel convex
  combination of pixel values: with sharp masks and kernels an object is
  moved whole, neither faded nor smeared, and a prediction fed back stays an
  image.

Pixels are moved in [0, 1] (the normalised frame plus the mean image); the
frame's border is repeated outside it, so what enters at an edge is the
edge's own background. The encoder sees the previous frame beside the
current one (option ``previous_frame``, on by default here), so an object's
velocity is in its input, not left for the LSTM to infer from positions
over steps. Frames: (batch, 1, H, W) float32 normalised, as for every
architecture. State: ``(c, h, previous frames)``, see
:class:`~recurrent_sim.models.skip_simulator.SkipSimulator`.

Registered as the architecture ``"motion"`` with the skip architecture's
layers; options (``--architecture-options``): ``kernels`` (default 4),
``kernel_size`` (odd, default 5: displacements up to 2 pixels a step),
``previous_frame`` (default true), ``skips`` and ``action_bias`` (as for
``skip``).
"""
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers

from recurrent_sim.models.skip_simulator import PREVIOUS_FRAME, SkipSimulator

MOTION_ARCHITECTURE = "motion"
MOTION_OPTIONS = ("skips", "action_bias", PREVIOUS_FRAME, "kernels", "kernel_size")
MOTION_DEFAULTS = {"kernels": 4, "kernel_size": 5}
MOTION_FEATURES = 16  # channels of the decoder's full-size level, read by the mask layer
KEEP_BIAS = 4.0  # initial mask logit of "the last frame as it is": an untrained model mostly repeats it


def repeat_border(pixels, width):
    """(N, C, H, W) -> (N, C, H + 2 width, W + 2 width), the outermost rows and columns repeated."""
    rows = F.concat([pixels[:, :, :1]] * width + [pixels] + [pixels[:, :, -1:]] * width, axis=2)
    return F.concat([rows[:, :, :, :1]] * width + [rows] + [rows[:, :, :, -1:]] * width, axis=3)


def move_pixels(pixels, kernels, kernel_size):
    """Each of K kernels applied to each frame: (N, 1, H, W), (N, K, k * k) -> (N, K, H, W).

    ``kernels[n, j]`` holds the k x k taps in row-major order; output pixel
    (y, x) of copy j is ``sum over taps (dy, dx) of kernels[n, j, dy * k + dx]
    * pixels[n, 0, y + dy - k // 2, x + dx - k // 2]`` (the border repeated).
    """
    n, _, height, width = pixels.shape
    taps = kernel_size * kernel_size
    patches = F.im2col(repeat_border(pixels, kernel_size // 2), kernel_size)  # (N, k * k, H, W)
    moved = F.matmul(kernels, F.reshape(patches, (n, taps, height * width)))
    return F.reshape(moved, (n, kernels.shape[1], height, width))


def motion_options(options):
    """The motion options with their defaults; ValueError for values no layer can take."""
    values = dict(MOTION_DEFAULTS)
    values.update({name: options[name] for name in MOTION_DEFAULTS if name in options})
    kernels, size = values["kernels"], values["kernel_size"]
    if isinstance(kernels, bool) or not isinstance(kernels, int) or kernels < 1:
        raise ValueError(f"the motion option kernels must be a positive integer, got {kernels!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
        raise ValueError(f"the motion option kernel_size must be an odd integer >= 3, got {size!r}")
    return kernels, size


class MotionSimulator(SkipSimulator):
    """Encoder -> action LSTM -> decoder whose output moves the last frame's pixels (see the module).

    Args:
        config: a :class:`recurrent_sim.models.config.SimulatorConfig` with the
            skip architecture's layer settings; ``config.options`` may set
            ``kernels``, ``kernel_size``, ``previous_frame``, ``skips`` and ``action_bias``.
    """

    OPTIONS = MOTION_OPTIONS
    PREVIOUS_FRAME_DEFAULT = True

    def __init__(self, config):
        kernels, kernel_size = motion_options(config.options)
        super().__init__(config, output_channels=MOTION_FEATURES)
        self.n_kernels, self.kernel_size = kernels, kernel_size
        candidates = kernels + 2  # the last frame, its moved copies, the synthesized image
        mask_bias = np.zeros(candidates + 1, dtype=np.float32)
        mask_bias[0] = KEEP_BIAS
        with self.init_scope():
            self.kernel_fc = L.Linear(config.hidden_size, kernels * kernel_size * kernel_size,
                                      initialW=initializers.Normal(0.01))
            # candidates' mask logits, then the synthesized image's logit
            self.mask_conv = L.Convolution2D(MOTION_FEATURES + 1, candidates + 1, 3, 1, 1,
                                             initialW=initializers.Normal(0.01), initial_bias=mask_bias)

    def _decode(self, hidden, maps, actions, frames):
        """Prediction (N, 1, H, W) normalised: the masked sum of the last frame, its moved copies
        and a synthesized image."""
        n = hidden.shape[0]
        features = F.transpose(F.relu(self._decode_levels(hidden, maps, actions)), (0, 3, 1, 2))
        mean = self.xp.broadcast_to(self.mean_image, (n, 1) + tuple(self.mean_image.shape))
        pixels = frames + mean  # [0, 1]
        logits = self.mask_conv(F.concat([features, pixels], axis=1))
        masks = F.softmax(logits[:, :-1], axis=1)
        synthesized = F.sigmoid(logits[:, -1:])
        taps = self.kernel_size * self.kernel_size
        kernels = F.softmax(F.reshape(self.kernel_fc(hidden), (n, self.n_kernels, taps)), axis=2)
        moved = move_pixels(pixels, kernels, self.kernel_size)
        candidates = F.concat([pixels, moved, synthesized], axis=1)
        prediction = F.sum(masks * candidates, axis=1, keepdims=True) - mean
        return self.clip_to_pixels(prediction)

