"""Settings of an offline training run: what defines it, how it runs, how it ended."""
import dataclasses
from typing import Optional, Tuple

from recurrent_sim.models import (
    ARCHITECTURE,
    ARCHITECTURE_OPTIONS,
    ENCODING_SIZE,
    HEADS,
    HEAD_INPUT,
    HEAD_INPUTS,
    HIDDEN_SIZE,
    architecture_names,
)
from recurrent_sim.training.heads_loss import HeadWeights
from recurrent_sim.training.losses import LOSS, loss_names
from recurrent_sim.training.optimizers import GRAD_CLIP, LR, OPTIMIZER
from recurrent_sim.training.rank_sampling import RANK_BATCHES
from recurrent_sim.training.schemes import BPTT_CHUNKS, CURRICULUM, SCHEME, training_split
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.utils.device import GPU
from recurrent_sim.utils.settings import (
    MAX_SEED, SEED, Setting, SettingError, check_positive, fraction, non_negative_float, positive_int,
)

BATCH_SIZE = Setting("batch_size", 16, "sequences per update", positive_int, flags=("--batch-size", "--batch_size"),
                     original_flag="--batch_size")
VALIDATION_FRACTION = Setting("validation_fraction", 0.1, "share of the episodes held out for validation", fraction)
VALIDATION_SEQUENCES = Setting("validation_sequences", 64, "validation sequences the validation error averages",
                               positive_int)
UPDATES = Setting("updates", 100000, "updates of the whole run; a resume goes on up to it (give a larger value to extend "
                  "a finished run)", positive_int)
CHECKPOINT_EVERY = Setting("checkpoint_every", 1000, "updates between checkpoints", positive_int)
KEEP_CHECKPOINTS = Setting("keep_checkpoints", 3, "newest checkpoints kept; older ones are deleted once a newer "
                           "one is safely written", positive_int)
VALIDATE_EVERY = Setting("validate_every", 1000, "updates between validations (and at the last update); the "
                         "best simulator is saved on improvement", positive_int)
LOG_EVERY = Setting("log_every", 10, "updates per training-error row of the log", positive_int)
ON_NONFINITE = Setting("on_nonfinite", "skip",
                       "on a non-finite loss: skip the batch and count it, or stop", choices=("skip", "stop"))
MAX_MINUTES = Setting("max_minutes", 0.0, "stop after this many minutes of training in this invocation, with a "
                      "checkpoint; --resume goes on (0: no limit)", non_negative_float)
MAX_CPU_MINUTES = Setting("max_cpu_minutes", 0.0, "the same budget in processor time of this process (all its "
                          "threads), for fair comparisons on a shared machine (0: no limit)", non_negative_float)
MAX_NONFINITE = Setting("max_nonfinite", 20, "with skip: stop after this many non-finite batches in a row "
                        "(the same rule stops the original script's online training)", positive_int)


@dataclasses.dataclass(frozen=True)
class OfflineSettings:
    """What defines a run; fixed for its whole life (a resume keeps them).

    Attributes:
        sequence: warm-up / observed / predicted split of each sequence.
        batch_size: sequences per update.
        hidden_size, encoding_size: simulator sizes (see SimulatorConfig).
        optimizer, lr, grad_clip: see :func:`make_optimizer`.
        validation_fraction: share of episodes held out, in [0, 1).
        validation_sequences: sequences the validation error is averaged over.
        seed: seeds the split, the batch order and the initial weights.
        architecture: registered name of the simulator network (see
            :mod:`recurrent_sim.models.registry`).
        loss: registered name of the loss (see :mod:`recurrent_sim.training.losses`).
        scheme: a training scheme of the paper (see
            :mod:`recurrent_sim.training.schemes`), or '' for the split of
            ``sequence`` (its ``unroll_dep`` is the scheme's warm-up).
        bptt_chunks: k of truncated BPTT(15, k) with a scheme.
        curriculum: updates at which a curriculum scheme moves on (empty:
            the scheme's default).
        architecture_options: the network's ``SimulatorConfig.options``
            (e.g. ``{"skips": False}`` for the skip architecture), or None.
        heads: the simulator has reward, episode-end and error heads.
        head_input: what the heads read (``state`` or ``frame``; see :mod:`recurrent_sim.models.heads`).
        head_weights: the heads' weights in the loss, and whether only the heads learn (the rest of the
            network then keeps its weights; see :class:`~recurrent_sim.training.heads_loss.HeadWeights`).
    """

    # the batches: one of the paper's training schemes, or the split of ``sequence``
    scheme: str = SCHEME.field()
    bptt_chunks: int = BPTT_CHUNKS.field()
    curriculum: Tuple[int, ...] = CURRICULUM.field()
    batch_size: int = BATCH_SIZE.field()
    seed: int = SEED.field()
    validation_fraction: float = VALIDATION_FRACTION.field()
    validation_sequences: int = VALIDATION_SEQUENCES.field()
    sequence: SequenceSchedule = SequenceSchedule()
    # the network
    architecture: str = ARCHITECTURE.field()
    hidden_size: int = HIDDEN_SIZE.field()
    encoding_size: int = ENCODING_SIZE.field()
    architecture_options: Optional[dict] = ARCHITECTURE_OPTIONS.field()
    heads: bool = HEADS.field()
    head_input: str = HEAD_INPUT.field()
    # its loss and optimiser
    loss: str = LOSS.field()
    optimizer: str = OPTIMIZER.field()
    lr: float = LR.field()
    grad_clip: float = GRAD_CLIP.field()
    head_weights: HeadWeights = HeadWeights()

    def __post_init__(self):
        object.__setattr__(self, "curriculum", tuple(int(u) for u in self.curriculum or ()))
        self.split  # raises SettingError for a scheme that cannot work
        for name, registered in (("architecture", architecture_names()), ("loss", loss_names())):
            if getattr(self, name) not in registered:
                raise SettingError(name, f"{{flag}} {getattr(self, name)!r} is not registered; choose from "
                                   f"{', '.join(registered)}")
        for name in ("batch_size", "hidden_size", "encoding_size", "validation_sequences"):
            check_positive(name, getattr(self, name))
        check_positive("lr", self.lr, integer=False)
        if not 0 <= self.seed <= MAX_SEED:
            raise SettingError("seed", f"{{flag}} must be an integer in 0..{MAX_SEED}, got {self.seed}")
        if not 0 <= self.validation_fraction < 1:
            raise SettingError("validation_fraction", f"{{flag}} must be in [0, 1), got {self.validation_fraction}")
        if self.head_input not in HEAD_INPUTS:
            raise SettingError("head_input", f"{{flag}} must be one of {', '.join(HEAD_INPUTS)}, got {self.head_input!r}")
        if self.head_weights.heads_only and not self.heads:
            raise SettingError("heads_only", "{flag} needs a simulator with heads: add --heads, or --loadtosim one "
                               "that has them")

    @property
    def split(self):
        """What splits each sequence: a :class:`~recurrent_sim.training.schemes.Scheme`
        (with ``sequence.unroll_dep`` warm-up frames), or the :class:`SequenceSchedule`."""
        return training_split(self.sequence, self.scheme, self.bptt_chunks, self.curriculum)

    @property
    def sequence_length(self) -> int:
        """Frames per training sequence."""
        return self.split.sequence_length

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["curriculum"] = list(self.curriculum)
        return d

    def flat(self) -> dict:
        """The settings by flag name: :meth:`to_dict` with the split and the heads' weights at the top."""
        flat = self.to_dict()
        flat.update(flat.pop("sequence"))
        flat.update(flat.pop("head_weights"))
        flat["curriculum"] = tuple(flat["curriculum"])
        return flat

    @classmethod
    def from_flat(cls, values: dict) -> "OfflineSettings":
        """The settings of :meth:`flat`'s names (those missing keep their defaults)."""
        values = dict(values)
        sequence = {f.name: values.pop(f.name) for f in dataclasses.fields(SequenceSchedule) if f.name in values}
        weights = {f.name: values.pop(f.name) for f in dataclasses.fields(HeadWeights) if f.name in values}
        return cls(sequence=SequenceSchedule(**sequence), head_weights=HeadWeights(**weights), **values)

    @classmethod
    def from_dict(cls, d: dict) -> "OfflineSettings":
        """The settings of :meth:`to_dict`; the heads' weights also as top-level keys (runs made before they
        were grouped)."""
        d = dict(d)
        return cls.from_flat({**d.pop("sequence"), **d.pop("head_weights", {}), **d})


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How far to train and how often to save and log; may change on resume.

    Attributes:
        updates: total number of updates of the run (a resume continues up to it).
        checkpoint_every: updates between checkpoints.
        keep_checkpoints: newest numbered checkpoints kept.
        validate_every: updates between validations (best simulator saved on improvement).
        log_every: updates averaged in one training-error row of the log.
        on_nonfinite: "skip" the batch (and count it) or "stop" the run.
        max_nonfinite: skipped batches in a row after which the run stops anyway.
        gpu: CUDA device id, -1 for the CPU.
        max_minutes: stop (with a checkpoint, resumable) after this many
            minutes of training in this invocation; 0 for no limit.
        max_cpu_minutes: the same in processor time of this process (all its
            threads), for comparisons on a shared machine; 0 for no limit.
        rank_batches: how the ranks of a data-parallel run draw their batches
            (see :mod:`recurrent_sim.training.rank_sampling`).
    """

    updates: int = UPDATES.field()
    checkpoint_every: int = CHECKPOINT_EVERY.field()
    keep_checkpoints: int = KEEP_CHECKPOINTS.field()
    validate_every: int = VALIDATE_EVERY.field()
    log_every: int = LOG_EVERY.field()
    on_nonfinite: str = ON_NONFINITE.field(ON_NONFINITE.default)  # "skip" or "stop"
    max_nonfinite: int = MAX_NONFINITE.field()
    gpu: int = GPU.field()
    max_minutes: float = MAX_MINUTES.field()
    max_cpu_minutes: float = MAX_CPU_MINUTES.field()
    rank_batches: str = RANK_BATCHES.field()

    def __post_init__(self):
        for name in ("max_minutes", "max_cpu_minutes"):
            if not 0 <= getattr(self, name) < float("inf"):
                raise SettingError(name, f"{{flag}} must be a finite number >= 0, got {getattr(self, name)}")
        if self.rank_batches not in RANK_BATCHES.choices:
            raise SettingError("rank_batches", f"{{flag}} must be one of {', '.join(RANK_BATCHES.choices)}, "
                               f"got {self.rank_batches!r}")
        if self.on_nonfinite not in ON_NONFINITE.choices:
            raise SettingError("on_nonfinite", f"{{flag}} must be 'skip' or 'stop', got {self.on_nonfinite!r}")
        for name in ("updates", "checkpoint_every", "keep_checkpoints", "validate_every", "log_every", "max_nonfinite"):
            check_positive(name, getattr(self, name))


@dataclasses.dataclass
class RunResult:
    """How a call to :meth:`OfflineTrainer.run` ended.

    ``reason``: "done", "time", "SIGINT", "SIGTERM" or "non-finite"; ``exit_code``:
    0, 128 + signal number, or 1.
    """

    updates: int
    reason: str
    exit_code: int
    message: str
    best_validation_error: Optional[float]
    last_checkpoint: Optional[str]

    @staticmethod
    def ending(stop_reason, stop, updates, target):
        """``(reason, exit_code, message)`` of a run that stopped at ``updates`` (of ``target``) for
        ``stop_reason`` (a non-finite stop, '' if none), the :class:`StopRequest` ``stop``, or
        short of ``target`` with neither (its time budget was spent)."""
        if stop_reason:
            return "non-finite", 1, f"stopped at update {updates}: {stop_reason}"
        if stop.requested:
            message = f"{stop.name} received: stopped at update {updates}; continue with --resume"
            return stop.name, stop.exit_code, message
        if updates < target:
            return "time", 0, f"stopped at update {updates} of {target}: time budget spent; continue with --resume"
        return "done", 0, f"trained to update {updates}"
