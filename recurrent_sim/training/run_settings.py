"""Settings of an offline training run: what defines it, how it runs, how it ended."""
import dataclasses
from typing import Optional

from recurrent_sim.models import PAPER_ARCHITECTURE, architecture_names
from recurrent_sim.training.losses import DEFAULT_LOSS, loss_names
from recurrent_sim.training.sequence_loss import SequenceSchedule
from recurrent_sim.utils.errors import UserError


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
    """

    sequence: SequenceSchedule = SequenceSchedule()
    batch_size: int = 16
    hidden_size: int = 1024
    encoding_size: int = 1024
    optimizer: str = "adam"
    lr: float = 1e-4
    grad_clip: float = 10.0
    validation_fraction: float = 0.1
    validation_sequences: int = 64
    seed: int = 0
    architecture: str = PAPER_ARCHITECTURE
    loss: str = DEFAULT_LOSS

    def __post_init__(self):
        if self.architecture not in architecture_names():
            raise UserError(
                f"architecture {self.architecture!r} is not registered; choose from {', '.join(architecture_names())}"
            )
        if self.loss not in loss_names():
            raise UserError(f"loss {self.loss!r} is not registered; choose from {', '.join(loss_names())}")
        for name in ("batch_size", "hidden_size", "encoding_size", "validation_sequences"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if not self.lr > 0:
            raise UserError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.validation_fraction < 1:
            raise UserError(f"validation-fraction must be in [0, 1), got {self.validation_fraction}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "OfflineSettings":
        d = dict(d)
        d["sequence"] = SequenceSchedule(**d["sequence"])
        return cls(**d)


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
    """

    updates: int = 100000
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    validate_every: int = 1000
    log_every: int = 10
    on_nonfinite: str = "skip"
    max_nonfinite: int = 100
    gpu: int = -1

    def __post_init__(self):
        for name in ("updates", "checkpoint_every", "keep_checkpoints", "validate_every", "log_every", "max_nonfinite"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")
        if self.on_nonfinite not in ("skip", "stop"):
            raise UserError(f"on-nonfinite must be 'skip' or 'stop', got {self.on_nonfinite!r}")


@dataclasses.dataclass
class RunResult:
    """How a call to :meth:`OfflineTrainer.run` ended.

    ``reason``: "done", "SIGINT", "SIGTERM" or "non-finite"; ``exit_code``:
    0, 128 + signal number, or 1.
    """

    updates: int
    reason: str
    exit_code: int
    message: str
    best_validation_error: Optional[float]
    last_checkpoint: Optional[str]

    @staticmethod
    def ending(stop_reason, stop, updates):
        """``(reason, exit_code, message)`` of a run that stopped at ``updates`` for
        ``stop_reason`` (a non-finite stop, '' if none) or the :class:`StopRequest` ``stop``."""
        if stop_reason:
            return "non-finite", 1, f"stopped at update {updates}: {stop_reason}"
        if stop.requested:
            return stop.name, stop.exit_code, f"{stop.name} received: stopped at update {updates}; continue with --resume"
        return "done", 0, f"trained to update {updates}"
