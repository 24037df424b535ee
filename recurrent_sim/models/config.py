"""Architecture settings of the simulator, saved with every checkpoint."""
import dataclasses
from typing import Optional, Tuple

# Convolutional encoder of the paper (64, 32, 32, 32 filters; 8x8, 6x6, 6x6,
# 4x4 kernels; stride 2), with paddings chosen so 84x84 maps to 5x5.
CONV_CHANNELS = (64, 32, 32, 32)
CONV_KERNELS = (8, 6, 6, 4)
CONV_PADS = (3, 2, 2, 1)
CONV_STRIDE = 2


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Spatial size after one convolution (Chainer's cover_all=False rule)."""
    return (size + 2 * pad - kernel) // stride + 1


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Shapes and sizes that define a simulator network.

    Attributes:
        frame_shape: (height, width) of the gray frames it predicts, pixels.
        n_actions: number of discrete actions of the game.
        hidden_size: LSTM units (the original code's ``--num_output_channels_sim``).
        factor_size: size of the multiplicative action-state interaction
            ``v_t``; defaults to ``2 * hidden_size`` as in the paper.
        encoding_size: size of the encoder's fully connected output ``z_t``.
    """

    frame_shape: Tuple[int, int] = (84, 84)
    n_actions: int = 4
    hidden_size: int = 1024
    factor_size: Optional[int] = None
    encoding_size: int = 1024

    def __post_init__(self):
        if self.factor_size is None:
            object.__setattr__(self, "factor_size", 2 * self.hidden_size)
        object.__setattr__(self, "frame_shape", tuple(int(s) for s in self.frame_shape))
        for name in ("n_actions", "hidden_size", "factor_size", "encoding_size"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if len(self.frame_shape) != 2 or min(self.frame_shape) < 16:
            raise ValueError(
                f"frame_shape must be (height, width) with both >= 16, got {self.frame_shape}"
            )

    def feature_shapes(self):
        """Spatial (height, width) after the input and after each conv layer."""
        shapes = [self.frame_shape]
        for kernel, pad in zip(CONV_KERNELS, CONV_PADS):
            h, w = shapes[-1]
            shapes.append(
                (
                    conv_output_size(h, kernel, CONV_STRIDE, pad),
                    conv_output_size(w, kernel, CONV_STRIDE, pad),
                )
            )
        return shapes

    def to_dict(self) -> dict:
        """JSON-serialisable form (lists instead of tuples)."""
        d = dataclasses.asdict(self)
        d["frame_shape"] = list(self.frame_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SimulatorConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown simulator settings: {sorted(unknown)}")
        return cls(**d)
