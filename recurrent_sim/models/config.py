"""Architecture settings of the simulator, saved with every checkpoint.

A :class:`SimulatorConfig` names its architecture (a key of the registry in
:mod:`recurrent_sim.models.registry`) and holds every layer size, so that a
checkpoint rebuilds the network it was saved from.
"""
import dataclasses
from typing import Optional, Tuple

from recurrent_sim.models.heads import HEAD_INPUTS
from recurrent_sim.utils.settings import Setting, json_object, positive_int

PAPER_ARCHITECTURE = "paper"

HIDDEN_SIZE = Setting("hidden_size", 1024, "LSTM units of the simulator", positive_int,
                      flags=("--hidden-size", "--num_output_channels_sim"), original_flag="--num_output_channels_sim")
ENCODING_SIZE = Setting("encoding_size", 1024, "size of the encoder's output (the code of a frame)", positive_int)
ARCHITECTURE = Setting("architecture", PAPER_ARCHITECTURE,
                       "registered simulator architecture (see recurrent_sim.models.registry; paper, original, skip, "
                       "motion)")
ARCHITECTURE_OPTIONS = Setting("architecture_options", None, "JSON object of the architecture's options, e.g. "
                               "'{\"skips\": false}' for the skip architecture (see docs/fidelity.md)", json_object)
HEADS = Setting("heads", False, "give the simulator reward, episode-end and self-error heads on its state "
                "(trained with the frame loss; see docs/simulated_game.md)", bool)
HEAD_INPUT = Setting("head_input", "state", "what the heads read: 'state' (the LSTM output) or 'frame' (the LSTM "
                     "output and the frame just predicted; see docs/simulated_game.md)", str, choices=HEAD_INPUTS)


COLOR_CHANNELS = {"gray": 1, "rgb": 3}
# The paper's full Atari frames (Chiappa et al.): 210x160, the emulator's own size.
FULL_FRAME_SHAPE = (210, 160)
# Paddings of the paper's four convolutions at 210x160: 210x160 -> 103x78, 50x38, 24x18, 11x8, so that the
# fully connected layer reads 32 x 11 x 8 = 2,816 features, the paper's size (its defaults map 84x84 to 5x5).
FULL_FRAME_PADS = (1, 1, 1, 0)


def image_shape(frame_shape, channels=1) -> tuple:
    """Shape of one stored uint8 frame: (H, W) gray, (channels, H, W) colour."""
    frame_shape = tuple(int(s) for s in frame_shape)
    return frame_shape if channels == 1 else (int(channels),) + frame_shape


def split_image_shape(shape):
    """Inverse of :func:`image_shape`: ((H, W), channels) of a stored frame shape (H, W) or (C, H, W)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape, 1
    if len(shape) == 3 and shape[0] in COLOR_CHANNELS.values():
        return shape[1:], shape[0]
    raise ValueError(f"a frame must be (H, W) gray or (3, H, W) RGB, got shape {shape}")


def color_name(channels) -> str:
    """"gray" or "rgb" for 1 or 3 channels."""
    return {v: k for k, v in COLOR_CHANNELS.items()}[int(channels)]


def describe_frames(shape) -> str:
    """A stored frame shape for messages: "84x84" for (84, 84) gray, "210x160 RGB" for (3, 210, 160)."""
    (height, width), channels = split_image_shape(shape)
    return f"{height}x{width}" + ("" if channels == 1 else " RGB")


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Spatial size after one convolution (Chainer's cover_all=False rule)."""
    return (size + 2 * pad - kernel) // stride + 1


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Shapes and sizes that define a simulator network.

    Attributes:
        frame_shape: (height, width) of the frames it predicts, pixels.
        channels: 1 for gray frames, 3 for RGB; checkpoints saved before
            colour existed lack the key and load as gray.
        n_actions: number of discrete actions of the game.
        hidden_size: LSTM units (the original code's ``--num_output_channels_sim``).
        factor_size: size of the multiplicative action-state interaction
            ``v_t``; defaults to ``2 * hidden_size`` as in the paper.
        encoding_size: size of the encoder's fully connected output ``z_t``.
        architecture: registered name of the network (``"paper"``: encoder ->
            action LSTM -> decoder of Chiappa et al.).
        conv_channels, conv_kernels, conv_pads, conv_strides: per layer of
            the convolutional encoder (the decoder mirrors it): output
            channels, square kernel side, padding and stride, pixels. The
            paper's 64, 32, 32, 32 filters of 8x8, 6x6, 6x6, 4x4 at stride 2,
            with paddings chosen so that 84x84 maps to 5x5
            (:data:`FULL_FRAME_PADS` at the paper's 210x160).
        options: further JSON-able settings of another architecture
            (name -> number, string or list); empty for the paper's.
        heads: True when the simulator has reward, episode-end and
            self-error heads on its state (:mod:`recurrent_sim.models.heads`);
            checkpoints saved before heads existed lack the key and load
            without them.
        head_input: what the heads read, one of
            :data:`~recurrent_sim.models.heads.HEAD_INPUTS` (``"state"``:
            the LSTM output; ``"frame"``: also the frame just predicted);
            checkpoints saved before it existed have ``"state"``.
    """

    frame_shape: Tuple[int, int] = (84, 84)
    n_actions: int = 4
    hidden_size: int = HIDDEN_SIZE.field()
    factor_size: Optional[int] = None
    encoding_size: int = ENCODING_SIZE.field()
    architecture: str = ARCHITECTURE.field()
    conv_channels: Tuple[int, ...] = (64, 32, 32, 32)
    conv_kernels: Tuple[int, ...] = (8, 6, 6, 4)
    conv_pads: Tuple[int, ...] = (3, 2, 2, 1)
    conv_strides: Tuple[int, ...] = (2, 2, 2, 2)
    options: dict = dataclasses.field(default_factory=dict)
    heads: bool = HEADS.field()
    head_input: str = HEAD_INPUT.field()
    channels: int = 1

    def __post_init__(self):
        if self.factor_size is None:
            object.__setattr__(self, "factor_size", 2 * self.hidden_size)
        for name in ("frame_shape", "conv_channels", "conv_kernels", "conv_pads", "conv_strides"):
            object.__setattr__(self, name, tuple(int(s) for s in getattr(self, name)))
        object.__setattr__(self, "options", dict(self.options))
        object.__setattr__(self, "heads", bool(self.heads))
        if self.head_input not in HEAD_INPUTS:
            raise ValueError(f"head_input must be one of {', '.join(HEAD_INPUTS)}, got {self.head_input!r}")
        object.__setattr__(self, "channels", int(self.channels))
        if self.channels not in COLOR_CHANNELS.values():
            raise ValueError(f"channels must be 1 (gray) or 3 (RGB), got {self.channels}")
        for name in ("n_actions", "hidden_size", "factor_size", "encoding_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if len(self.frame_shape) != 2 or min(self.frame_shape) < 16:
            raise ValueError(
                f"frame_shape must be (height, width) with both >= 16, got {self.frame_shape}"
            )
        layers = {len(self.conv_channels), len(self.conv_kernels), len(self.conv_pads), len(self.conv_strides)}
        if len(layers) != 1:
            raise ValueError("conv_channels, conv_kernels, conv_pads and conv_strides must have one entry per layer")
        if min(self.conv_channels + self.conv_kernels + self.conv_strides, default=1) < 1 or min(self.conv_pads) < 0:
            raise ValueError("conv channels, kernels and strides must be positive, pads >= 0")
        if min(min(shape) for shape in self.feature_shapes()) < 1:
            raise ValueError(
                f"frames of {self.frame_shape} are too small for the convolutions: {self.feature_shapes()}"
            )

    @property
    def image_shape(self):
        """Shape of one stored uint8 frame: (H, W) gray, (3, H, W) RGB."""
        return image_shape(self.frame_shape, self.channels)

    def describe_frames(self) -> str:
        """E.g. "84x84" (gray) or "210x160 RGB", for messages."""
        return describe_frames(self.image_shape)

    def feature_shapes(self):
        """Spatial (height, width) after the input and after each conv layer."""
        shapes = [self.frame_shape]
        for kernel, stride, pad in zip(self.conv_kernels, self.conv_strides, self.conv_pads):
            h, w = shapes[-1]
            shapes.append((conv_output_size(h, kernel, stride, pad), conv_output_size(w, kernel, stride, pad)))
        return shapes

    def to_dict(self) -> dict:
        """JSON-serialisable form (lists instead of tuples)."""
        d = dataclasses.asdict(self)
        for name in ("frame_shape", "conv_channels", "conv_kernels", "conv_pads", "conv_strides"):
            d[name] = list(d[name])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SimulatorConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``.

        Settings a file lacks take their defaults: a configuration saved
        before architectures had names (checkpoint format 1) is the paper's
        network with the paper's layers.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown simulator settings: {sorted(unknown)}")
        return cls(**d)
