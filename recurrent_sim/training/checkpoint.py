"""Simulator checkpoints: one ``.npz`` file per checkpoint, written atomically.

A checkpoint file holds plain arrays only (it is read with
``allow_pickle=False``, so loading never executes code):

* ``model/...``: the simulator's parameters and persistent values (the
  mean image included);
* ``optimizer/...``: the optimizer's state, when saved;
* ``format_version``, ``config`` (the :class:`SimulatorConfig` as JSON) and
  ``metadata`` (JSON: env id, preprocessing, training schedule, counters).

A folder given as ``--savesim`` / ``--loadtosim`` holds the best-so-far
simulator as ``simulator.npz``.

Loading refuses, with one :class:`CheckpointError` line, a file whose format
version is not a positive integer or is newer (:class:`NewerFormatError`),
whose metadata fails :func:`~recurrent_sim.training.metadata.metadata_problem`,
or whose arrays do not fit the model its config builds
(:mod:`recurrent_sim.training.checkpoint_layout`).
"""
import dataclasses
import json
import logging
import os

import chainer
import numpy as np
from chainer.serializers import DictionarySerializer, NpzDeserializer

from recurrent_sim.models import PAPER_ARCHITECTURE, SimulatorConfig, build_simulator
from recurrent_sim.training.checkpoint_layout import layout_problem
from recurrent_sim.training.metadata import metadata_problem
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import READ_ERRORS, atomic_write
from recurrent_sim.utils.finite import refuse_nonfinite, require_finite, summarize_names

logger = logging.getLogger(__name__)

# 2: the configuration names its architecture and every layer size. Format-1
# files (no architecture, paper layers) are read as the paper's network.
FORMAT_VERSION = 2
CHECKPOINT_FILENAME = "simulator.npz"


class CheckpointError(UserError):
    """A checkpoint is missing, unreadable, or does not fit what was asked."""


class NewerFormatError(CheckpointError):
    """A checkpoint written by a newer recurrent_sim (a higher format version): not damaged, not
    readable by this version."""


TOP_LEVEL_KEYS = ("format_version", "config", "metadata")
ARRAY_PREFIXES = ("model/", "optimizer/", "extra/")
HEADS_PREFIX = "model/state_heads/"  # where a simulator's heads keep their weights


def _format_version(path, arrays) -> int:
    """The checkpoint's format version: a positive integer (not a boolean), at most :data:`FORMAT_VERSION`."""
    if "format_version" not in arrays:
        raise CheckpointError(f"{path} is not a recurrent_sim checkpoint (it has no format_version)")
    stored = arrays["format_version"]
    if stored.shape != () or stored.dtype.kind not in "iu" or int(stored) < 1:
        value = stored.tolist() if stored.size < 4 else f"a {stored.dtype} array of shape {stored.shape}"
        raise CheckpointError(f"{path} is not a valid recurrent_sim checkpoint: its format_version is {value!r}, "
                              "not a positive integer; it is damaged or was not written by recurrent_sim")
    if int(stored) > FORMAT_VERSION:
        raise NewerFormatError(
            f"{path} was written by a newer recurrent_sim (checkpoint format {int(stored)}; this one reads formats "
            f"1 to {FORMAT_VERSION}): upgrade recurrent_sim to load it"
        )
    return int(stored)


def checkpoint_path(path) -> str:
    """The checkpoint file for ``path``: ``path/simulator.npz`` for a folder."""
    path = os.fspath(path)
    return os.path.join(path, CHECKPOINT_FILENAME) if os.path.isdir(path) else path


def _json_array(value) -> np.ndarray:
    return np.array(json.dumps(value, sort_keys=True))


def save_checkpoint(path, simulator, optimizer=None, metadata=None, extra_arrays=None, cause="") -> str:
    """Save ``simulator`` (and ``optimizer``) atomically; returns the file written.

    ``path`` may be a folder (created if missing; the file is
    ``simulator.npz`` in it) or a file name. ``extra_arrays`` maps names to
    numpy arrays stored under ``extra/``. When an array is not finite
    nothing is written and :class:`NonFiniteError` is raised, its message
    ending with ``cause`` (the likely cause, e.g. 'try a lower --lr').
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        os.makedirs(path, exist_ok=True)
        path = os.path.join(path, CHECKPOINT_FILENAME)
    else:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    arrays = {}
    DictionarySerializer(arrays, "model/").save(simulator)
    if optimizer is not None:
        DictionarySerializer(arrays, "optimizer/").save(optimizer)
    for name, value in (extra_arrays or {}).items():
        arrays["extra/" + name] = np.asarray(value)
    arrays = {k: chainer.backends.cuda.to_cpu(v) for k, v in arrays.items()}
    require_finite(arrays, f"simulator {path}", cause)
    arrays["format_version"] = np.array(FORMAT_VERSION)
    arrays["config"] = _json_array(simulator.config.to_dict())
    arrays["metadata"] = _json_array(metadata or {})
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return path


class Checkpoint:
    """A checkpoint read from disk: ``config``, ``metadata`` and its arrays."""

    def __init__(self, path, arrays):
        self.path = path
        self.arrays = arrays
        version = _format_version(path, arrays)
        invalid = f"{path} is not a valid recurrent_sim checkpoint"
        try:
            self.config = SimulatorConfig.from_dict(json.loads(str(arrays["config"])))
            self.metadata = json.loads(str(arrays["metadata"]))
        except (KeyError, ValueError, TypeError, OverflowError) as e:
            raise CheckpointError(f"{invalid} ({type(e).__name__}: {e})") from None
        unknown = sorted(key for key in arrays if key not in TOP_LEVEL_KEYS and not key.startswith(ARRAY_PREFIXES))
        problem = metadata_problem(self.metadata) or (unknown and f"unexpected array(s) {summarize_names(unknown)}")
        if problem:
            raise CheckpointError(f"{invalid}: {problem}; it is damaged or was not written by recurrent_sim")
        self.format_version = version

    @property
    def has_optimizer(self) -> bool:
        return any(k.startswith("optimizer/") for k in self.arrays)

    def extra(self, name):
        """An array saved through ``extra_arrays`` (KeyError if absent)."""
        return self.arrays["extra/" + name]

    def build_simulator(self):
        """A new simulator of this checkpoint's architecture (built by the registry), with its weights.

        Raises:
            CheckpointError: the architecture is not registered in this process.
        """
        try:
            simulator = build_simulator(self.config)
        except (ValueError, TypeError) as e:
            raise CheckpointError(f"{self.path}: {e} (import the module that registers it)") from None
        self.restore_simulator(simulator)
        return simulator

    def restore_simulator(self, simulator, new_heads=False, new_options=False):
        """Load the weights into an existing simulator of the same architecture.

        With ``new_heads`` the simulator may differ in its heads alone (``heads``, ``head_input``):
        everything else is loaded and its heads keep the weights they were built with. With
        ``new_options`` it may differ in its ``options`` (CheckpointError if they change a weight).
        """
        changed = dict(heads=simulator.config.heads, head_input=simulator.config.head_input) if new_heads else {}
        config = dataclasses.replace(self.config, **changed, **({"options": simulator.config.options}
                                                                 if new_options else {}))
        if simulator.config != config:
            raise CheckpointError(
                f"{self.path} holds a simulator with {describe(self.config)}, "
                f"but one with {describe(simulator.config)} was asked for"
            )
        arrays = self.arrays
        if new_heads:
            arrays = {name: value for name, value in arrays.items() if not name.startswith(HEADS_PREFIX)}
            if simulator.config.heads:
                arrays.update((HEADS_PREFIX + name.lstrip("/"), chainer.backends.cuda.to_cpu(param.array))
                              for name, param in simulator.state_heads.namedparams())
        self._deserialize("model/", simulator, arrays)

    def restore_optimizer(self, optimizer):
        """Load the optimizer state (the optimizer must already be set up)."""
        if not self.has_optimizer:
            raise CheckpointError(f"{self.path} holds no optimizer state")
        self._deserialize("optimizer/", optimizer)

    def _deserialize(self, prefix, target, arrays=None):
        """Load the arrays under ``prefix`` of ``arrays`` (default: the checkpoint's) into ``target``
        once each has the name, shape and dtype the target needs (see
        :mod:`recurrent_sim.training.checkpoint_layout`)."""
        arrays = self.arrays if arrays is None else arrays
        problem = layout_problem(arrays, prefix, target)
        if problem:
            raise CheckpointError(f"{self.path} does not fit the simulator its config describes: {problem}; "
                                  "it is damaged or was not written by recurrent_sim")
        NpzDeserializer(arrays, path=prefix, strict=True).load(target)


def describe(config: SimulatorConfig) -> str:
    """One-line description of an architecture, for error messages."""
    text = (
        f"frames {config.describe_frames()}, {config.n_actions} actions, LSTM {config.hidden_size}, "
        f"factor {config.factor_size}, encoding {config.encoding_size}"
    )
    paper = SimulatorConfig()
    layers = ("conv_channels", "conv_kernels", "conv_pads", "conv_strides")
    if any(getattr(config, name) != getattr(paper, name) for name in layers):
        text += ", convolutions " + " ".join(
            f"{c}x{k}x{k}/{s}+{p}"
            for c, k, s, p in zip(config.conv_channels, config.conv_kernels, config.conv_strides, config.conv_pads)
        )
    if config.architecture != PAPER_ARCHITECTURE:
        text = f"architecture {config.architecture}, " + text
    if config.options:
        text += f", options {config.options}"
    if config.heads:
        text += ", reward/episode-end/error heads" + (" reading the frame" if config.head_input == "frame" else "")
    return text


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint file or a folder's ``simulator.npz``.

    Raises:
        CheckpointError: missing, truncated, corrupted or foreign file.
    """
    file = checkpoint_path(path)
    if not os.path.exists(file):
        if os.path.isdir(os.fspath(path)):
            raise CheckpointError(f"no {CHECKPOINT_FILENAME} in folder {path}")
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except READ_ERRORS as e:
        raise CheckpointError(
            f"cannot read checkpoint {file}: truncated or corrupted ({type(e).__name__}: {e})"
        ) from None
    refuse_nonfinite(arrays, f"checkpoint {file}", CheckpointError)
    return Checkpoint(file, arrays)


# ----- numbered checkpoints of a training run ---------------------------------

NUMBERED_PREFIX = "checkpoint_"
DAMAGED_SUFFIX = ".damaged"


def numbered_checkpoint_path(folder, number: int) -> str:
    """``folder/checkpoint_00001234.npz`` for checkpoint ``number`` (an update count)."""
    return os.path.join(os.fspath(folder), f"{NUMBERED_PREFIX}{int(number):08d}.npz")


def list_checkpoints(folder):
    """Numbered checkpoints in ``folder`` as ``[(number, path), ...]``, oldest first.

    Temporary files of interrupted writes and files set aside as damaged are
    not listed. A missing folder lists nothing.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    found = []
    for name in os.listdir(folder):
        if not (name.startswith(NUMBERED_PREFIX) and name.endswith(".npz")):
            continue
        digits = name[len(NUMBERED_PREFIX) : -len(".npz")]
        if digits.isdigit():
            found.append((int(digits), os.path.join(folder, name)))
    return sorted(found)


def prune_checkpoints(folder, keep: int):
    """Delete all numbered checkpoints of ``folder`` but the ``keep`` newest; returns the deleted paths."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    deleted = []
    for _, path in list_checkpoints(folder)[:-keep]:
        os.unlink(path)
        deleted.append(path)
    return deleted


def newest_loadable_checkpoint(folder):
    """The newest numbered checkpoint of ``folder`` that loads, or None.

    Checkpoints newer than it that fail to load (truncated or corrupted by
    something other than this package's atomic writes, e.g. a failed copy)
    are renamed ``*.npz.damaged`` with a warning, so that they are neither
    deleted nor picked again. A checkpoint of a newer format is not damaged:
    :class:`NewerFormatError` is raised and the file is left as it is.
    """
    for _, path in reversed(list_checkpoints(folder)):
        try:
            return load_checkpoint(path)
        except NewerFormatError:
            raise  # not damaged: left as it is
        except CheckpointError as e:
            logger.warning("skipping damaged checkpoint: %s", e)
            os.replace(path, path + DAMAGED_SUFFIX)
    return None
