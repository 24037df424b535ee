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
* with ``local_kernel``, one more k x k kernel *per pixel* (the DNA model of
  the same paper), read from the decoder's full-size level and the last two
  frames: each pixel takes its value from where the local motion says it
  comes from, so objects moving different ways move each their own way;
* from the decoder's full-size level, the last two frames and a k x k
  convolution of them (what moved within a kernel's reach), per-pixel masks
  (a softmax over the candidates): the last frame as it is, the locally
  moved frame, each globally moved copy, and one synthesized image (for
  what no copy holds, such as an object that appears);
* with ``intensity_bins`` K > 0, the k x k convolution and the masks read
  the last two frames as K soft intensity planes each (a triangular bin per
  gray level band, mixed by a 1 x 1 convolution into ``INTENSITY_FEATURES``
  channels) instead of one gray plane: two objects of nearby gray
  levels (BlockWorld's ball, 226, over its square, 200) then differ as
  much as an object and the background do, where a gray plane shows the
  ball over the square at an eighth of its contrast over the background;
* the prediction is the masked sum of the candidates, a per-pixel convex
  combination of pixel values: with sharp masks and kernels an object is
  moved whole, neither faded nor smeared, and a prediction fed back stays an
  image;
* with ``plane_loss`` K > 0, the frame loss (:meth:`MotionSimulator.frame_error`) compares
  *intensity planes* instead of pixels: the same masks and kernels move the
  last frame's K triangular planes (each moved plane a convex mix of planes,
  so a pixel's planes sum to 1 and their weighted bin centres are the
  predicted pixel itself), and the loss is their squared difference from the
  target's planes, summed over the planes. A pixel of the wrong object costs
  1 to 2 whatever the two gray levels (BlockWorld's ball over its square:
  1.2; in the squared error of the pixels 0.01), and the gradient of a mask
  grows with how much of the target's level its candidate holds, not with the
  gray distance.

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
``local_kernel`` (default true), ``intensity_bins`` (default 0: gray planes),
``plane_loss`` (default 0: the squared error of pixels), ``previous_frame`` (default true), ``skips`` and
``action_bias`` (as for ``skip``).
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers

from recurrent_sim.models.skip_simulator import PREVIOUS_FRAME, SkipSimulator

MOTION_ARCHITECTURE = "motion"
MOTION_OPTIONS = ("skips", "action_bias", PREVIOUS_FRAME, "kernels", "kernel_size", "local_kernel", "intensity_bins",
                  "plane_loss")
MOTION_DEFAULTS = {"kernels": 4, "kernel_size": 5, "local_kernel": True, "intensity_bins": 0, "plane_loss": 0}
MOTION_FEATURES = 16  # channels of the decoder's full-size level, read by the mask layer
INTENSITY_FEATURES = 8  # channels a 1 x 1 convolution makes of the intensity planes of the last two frames
KEEP_BIAS = 4.0  # initial mask logit of "the last frame as it is": an untrained model mostly repeats it


def repeat_border(pixels, width):
    """(N, C, H, W) -> (N, C, H + 2 width, W + 2 width), the outermost rows and columns repeated."""
    rows = F.concat([pixels[:, :, :1]] * width + [pixels] + [pixels[:, :, -1:]] * width, axis=2)
    return F.concat([rows[:, :, :, :1]] * width + [rows] + [rows[:, :, :, -1:]] * width, axis=3)


def pixel_taps(pixels, kernel_size):
    """(N, C, H, W) -> (N, C * k * k, H, W): at each pixel, the k x k pixels around it in row-major
    order (tap c * k * k + dy * k + dx reads pixel (y + dy - k // 2, x + dx - k // 2) of channel c), the
    border repeated."""
    return F.im2col(repeat_border(pixels, kernel_size // 2), kernel_size)


def move_pixels(taps, kernels):
    """Each of K kernels applied to each frame: (N, k * k, H, W) taps, (N, K, k * k) -> (N, K, H, W)."""
    n, count, height, width = taps.shape
    moved = F.matmul(kernels, F.reshape(taps, (n, count, height * width)))
    return F.reshape(moved, (n, kernels.shape[1], height, width))


def move_pixels_locally(taps, kernels):
    """A kernel per pixel: (N, k * k, H, W) taps, (N, k * k, H, W) kernels -> (N, 1, H, W)."""
    return F.sum(kernels * taps, axis=1, keepdims=True)


def intensity_planes(pixels, bins):
    """(N, C, H, W) pixels in [0, 1] -> (N, C * bins, H, W): plane b of channel c is
    max(0, 1 - |x (bins - 1) - b|), a triangular bin centred on gray level b / (bins - 1); the planes of
    a pixel sum to 1 and mix only the two bins around its level."""
    n, channels, height, width = pixels.shape
    centres = pixels.xp.arange(bins, dtype=pixels.dtype).reshape(1, 1, bins, 1, 1)
    scaled = F.broadcast_to(F.expand_dims(pixels, 2) * (bins - 1), (n, channels, bins, height, width))
    planes = F.relu(1 - abs(scaled - F.broadcast_to(centres, scaled.shape)))
    return F.reshape(planes, (n, channels * bins, height, width))


def moved_planes(planes, masks, local_kernels, kernels, synthesized, kernel_size):
    """The candidates' intensity planes mixed as their pixels are (see the module).

    Args:
        planes: (N, K, H, W) intensity planes of the last frame.
        masks: (N, candidates, H, W) per-pixel weights of the candidates.
        local_kernels: (N, k * k, H, W) per-pixel kernels, or None (no local kernel).
        kernels: (N, kernels, k * k) global kernels.
        synthesized: (N, K, H, W) intensity planes of the synthesized image.

    Returns:
        (N, K, H, W) planes, each pixel's summing to 1.
    """
    n, bins, height, width = planes.shape
    taps = kernel_size * kernel_size
    around = F.reshape(pixel_taps(planes, kernel_size), (n, bins, taps, height, width))
    candidates = [planes]
    if local_kernels is not None:
        candidates.append(F.sum(F.broadcast_to(F.expand_dims(local_kernels, 1), around.shape) * around, axis=2))
    by_tap = F.reshape(F.transpose(around, (0, 2, 1, 3, 4)), (n, taps, bins * height * width))
    moved = F.reshape(F.matmul(kernels, by_tap), (n, kernels.shape[1], bins, height, width))
    candidates.extend(moved[:, i] for i in range(kernels.shape[1]))
    candidates.append(synthesized)
    stacked = F.stack(candidates, axis=1)  # (N, candidates, K, H, W)
    return F.sum(F.broadcast_to(F.expand_dims(masks, 2), stacked.shape) * stacked, axis=1)


def motion_options(options):
    """The motion options with their defaults; ValueError for values no layer can take.

    Returns:
        (kernels, kernel_size, local_kernel, intensity_bins, plane_loss).
    """
    values = dict(MOTION_DEFAULTS)
    values.update({name: options[name] for name in MOTION_DEFAULTS if name in options})
    kernels, size, local = values["kernels"], values["kernel_size"], values["local_kernel"]
    bins, plane_loss = values["intensity_bins"], values["plane_loss"]
    for name, value in (("intensity_bins", bins), ("plane_loss", plane_loss)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value == 1:
            raise ValueError(f"the motion option {name} must be 0 (gray levels) or an integer >= 2 (planes), "
                             f"got {value!r}")
    if isinstance(kernels, bool) or not isinstance(kernels, int) or kernels < 1:
        raise ValueError(f"the motion option kernels must be a positive integer, got {kernels!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 3 or size % 2 == 0:
        raise ValueError(f"the motion option kernel_size must be an odd integer >= 3, got {size!r}")
    if not isinstance(local, bool):
        raise ValueError(f"the motion option local_kernel must be true or false, got {local!r}")
    return kernels, size, local, bins, plane_loss


class MotionSimulator(SkipSimulator):
    """Encoder -> action LSTM -> decoder whose output moves the last frame's pixels (see the module).

    Args:
        config: a :class:`recurrent_sim.models.config.SimulatorConfig` with the
            skip architecture's layer settings; ``config.options`` may set
            ``kernels``, ``kernel_size``, ``local_kernel``, ``intensity_bins``, ``plane_loss``,
            ``previous_frame``, ``skips`` and ``action_bias``.
    """

    OPTIONS = MOTION_OPTIONS
    PREVIOUS_FRAME_DEFAULT = True

    def __init__(self, config):
        kernels, kernel_size, local, bins, plane_loss = motion_options(config.options)
        if config.channels != 1:
            raise ValueError("the motion architecture moves the pixels of gray frames; use gray frames "
                             "or another architecture (paper, skip)")
        super().__init__(config, output_channels=MOTION_FEATURES)
        self.n_kernels, self.kernel_size, self.local_kernel, self.intensity_bins = kernels, kernel_size, local, bins
        self.plane_loss = plane_loss
        taps = kernel_size * kernel_size
        # the last frame as it is, the locally moved frame, the globally moved copies, the synthesized image
        candidates = 1 + int(local) + kernels + 1
        local_taps = taps if local else 0
        bias = np.zeros(local_taps + candidates + 1, dtype=np.float32)
        bias[local_taps] = KEEP_BIAS
        frames_in = 2 if self.previous_frame else 1
        with self.init_scope():
            if bins:  # the frames' intensity planes, mixed into a few channels the masks read
                self.intensity_conv = L.Convolution2D(frames_in * bins, INTENSITY_FEATURES, 1)
                frames_in = INTENSITY_FEATURES
            self.kernel_fc = L.Linear(config.hidden_size, kernels * taps, initialW=initializers.Normal(0.01))
            # what the last frames show within reach of a kernel: the motion the masks and kernels follow
            self.motion_conv = L.Convolution2D(frames_in, MOTION_FEATURES, kernel_size, 1, kernel_size // 2)
            # the local kernel's taps, the candidates' mask logits, then the synthesized image's logit
            self.mask_conv = L.Convolution2D(2 * MOTION_FEATURES + frames_in, len(bias), 3, 1, 1,
                                             initialW=initializers.Normal(0.01), initial_bias=bias)

    def _decode(self, hidden, maps, actions, frames, previous=None):
        """Prediction (N, 1, H, W) normalised: the masked sum of the last frame, its moved copies
        and a synthesized image."""
        n = hidden.shape[0]
        features = F.transpose(F.relu(self._decode_levels(hidden, maps, actions)), (0, 3, 1, 2))
        mean = self.xp.broadcast_to(self.mean_image, (n, 1) + tuple(self.mean_image.shape))
        pixels = frames + mean  # [0, 1]
        frames_in = [pixels] if previous is None else [previous + mean, pixels]
        seen = F.concat(frames_in, axis=1)
        if self.intensity_bins:
            seen = self.intensity_conv(intensity_planes(seen, self.intensity_bins))
        logits = self.mask_conv(F.concat([features, F.relu(self.motion_conv(seen)), seen], axis=1))
        taps = self.kernel_size * self.kernel_size
        local_taps = taps if self.local_kernel else 0
        masks = F.softmax(logits[:, local_taps:-1], axis=1)
        around = pixel_taps(pixels, self.kernel_size)
        candidates = [pixels]
        local_kernels = F.softmax(logits[:, :taps], axis=1) if self.local_kernel else None
        if self.local_kernel:
            candidates.append(move_pixels_locally(around, local_kernels))
        kernels = F.softmax(F.reshape(self.kernel_fc(hidden), (n, self.n_kernels, taps)), axis=2)
        candidates.append(move_pixels(around, kernels))
        candidates.append(F.sigmoid(logits[:, -1:]))
        prediction = self.clip_to_pixels(F.sum(masks * F.concat(candidates, axis=1), axis=1, keepdims=True) - mean)
        if self.plane_loss:  # what frame_error compares, the planes mixed as the pixels are, made when asked
            bins, size, synthesized = self.plane_loss, self.kernel_size, candidates[-1]
            prediction.mixed_planes = lambda: moved_planes(
                intensity_planes(chainer.as_variable(pixels), bins), masks, local_kernels, kernels,
                intensity_planes(synthesized, bins), size)
        return prediction

    def frame_error(self, predictions, targets):
        """With ``plane_loss`` K, the squared difference of the K intensity planes of ``predictions``
        (as :meth:`_decode` mixed them) and of ``targets`` (N, 1, H, W normalised), summed: up to 2 a
        pixel; otherwise the squared error of the pixels."""
        if not self.plane_loss:
            return super().frame_error(predictions, targets)
        mixed = getattr(predictions, "mixed_planes", None)
        if mixed is None:
            raise ValueError("plane_loss measures the predictions this simulator's steps return, "
                             "not frames made otherwise")
        pixels = chainer.as_array(targets) + self.xp.broadcast_to(self.mean_image, targets.shape)
        target_planes = intensity_planes(chainer.as_variable(pixels), self.plane_loss).array
        return F.sum(F.squared_difference(mixed(), target_planes))
