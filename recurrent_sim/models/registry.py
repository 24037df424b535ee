"""Simulator architectures by name: what builds the network a checkpoint holds.

Adding an architecture is one new module and one registry entry::

    from recurrent_sim.models import SimulatorBase, register_architecture

    class MySimulator(SimulatorBase):
        def __init__(self, config):
            super().__init__(config)          # mean image, normalisation, stateful use
            with self.init_scope():
                ...                           # links sized from config (and config.options)
        def initial_state(self, batch_size): ...
        def encode(self, frames): ...
        def transition(self, encoding, actions, state): ...
        def decode(self, hidden): ...

    register_architecture("my_simulator", MySimulator)

A :class:`SimulatorConfig` with ``architecture="my_simulator"`` then builds
it (:func:`build_simulator`), checkpoints save the name and every size and
rebuild it on load, and ``recurrent-sim train --architecture my_simulator``
trains it, provided the module that registers it has been imported. The
sequence loss (:mod:`recurrent_sim.training.losses`) is chosen by name
separately and uses only the interface of :class:`SimulatorBase`.
"""
from recurrent_sim.models.config import (
    FULL_FRAME_PADS,
    FULL_FRAME_SHAPE,
    PAPER_ARCHITECTURE,
    SimulatorConfig,
    split_image_shape,
)
from recurrent_sim.models.independent_simulator import INDEPENDENT_ARCHITECTURE, IndependentSimulator
from recurrent_sim.models.motion_simulator import MOTION_ARCHITECTURE, MotionSimulator
from recurrent_sim.models.simulator import Simulator
from recurrent_sim.models.skip_simulator import SKIP_ARCHITECTURE, SKIP_LAYERS, SkipSimulator

ORIGINAL_ARCHITECTURE = "original"
# The original repository's smaller layers (84x84 -> 41, 20, 19, 9): about a
# quarter of the paper network's arithmetic; the paper's LSTM and decoder form.
ORIGINAL_LAYERS = dict(conv_channels=(32, 32, 32, 64), conv_kernels=(4, 3, 2, 3), conv_pads=(0, 0, 0, 0),
                       conv_strides=(2, 2, 1, 2))

_ARCHITECTURES = {}
_DEFAULTS = {}


def register_architecture(name: str, builder, defaults=None):
    """Register ``builder(config) -> SimulatorBase`` under ``name``; returns ``builder``.

    ``defaults`` are the :class:`SimulatorConfig` fields (for example the
    conv layers) that :func:`simulator_config` uses for this architecture
    when the caller does not give them. Registering a name again replaces
    its builder (the last registration wins).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"an architecture name must be a non-empty string, got {name!r}")
    _ARCHITECTURES[name] = builder
    _DEFAULTS[name] = dict(defaults or {})
    return builder


def simulator_config(architecture: str = PAPER_ARCHITECTURE, **settings) -> SimulatorConfig:
    """A :class:`SimulatorConfig` of ``architecture``: its registered defaults, then ``settings``.

    Raises:
        ValueError: no architecture of that name is registered, or a setting is invalid.
    """
    if architecture not in _ARCHITECTURES:
        raise ValueError(
            f"unknown simulator architecture {architecture!r}; registered: {', '.join(architecture_names())}"
        )
    values = dict(_DEFAULTS[architecture])
    values.update(settings)
    return SimulatorConfig(architecture=architecture, **values)


def frame_settings(architecture: str, image_shape) -> dict:
    """The :class:`SimulatorConfig` fields for frames stored as ``image_shape`` ((H, W) gray, (3, H, W) RGB):
    ``frame_shape`` and ``channels``, and for the paper's network at the paper's 210x160 its paddings there
    (:data:`~recurrent_sim.models.config.FULL_FRAME_PADS`: the fully connected layer reads 32 x 11 x 8)."""
    frame_shape, channels = split_image_shape(image_shape)
    settings = dict(frame_shape=frame_shape, channels=channels)
    if architecture == PAPER_ARCHITECTURE and frame_shape == FULL_FRAME_SHAPE:
        settings["conv_pads"] = FULL_FRAME_PADS
    return settings


def architecture_names():
    """Names of the registered architectures, sorted."""
    return sorted(_ARCHITECTURES)


def build_simulator(config: SimulatorConfig):
    """A new, randomly initialised simulator of ``config.architecture`` built from ``config``.

    Raises:
        ValueError: no architecture of that name is registered.
    """
    builder = _ARCHITECTURES.get(config.architecture)
    if builder is None:
        raise ValueError(
            f"unknown simulator architecture {config.architecture!r}; registered: {', '.join(architecture_names())}"
        )
    return builder(config)


register_architecture(PAPER_ARCHITECTURE, Simulator)
register_architecture(ORIGINAL_ARCHITECTURE, Simulator, ORIGINAL_LAYERS)
register_architecture(SKIP_ARCHITECTURE, SkipSimulator, SKIP_LAYERS)
register_architecture(INDEPENDENT_ARCHITECTURE, IndependentSimulator)
register_architecture(MOTION_ARCHITECTURE, MotionSimulator, SKIP_LAYERS)
