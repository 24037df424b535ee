"""The paper's training schemes: which trained steps see real frames.

A training sequence is ``warmup`` real frames (no backprop, no decoding)
followed by trained steps. Each trained step is either

* ``O``, observation-dependent: the input is the real frame, or
* ``P``, prediction-dependent: the input is the model's own prediction of
  that frame from the step before (for the first trained step, the
  prediction made at the end of the warm-up, without backprop).

A scheme names the share of prediction-dependent transitions (PDT) at the
paper's BPTT length T = 15, and how it changes during training:

=============  =====================================  =======================
name           pattern of the 15 trained steps        note
=============  =====================================  =======================
``0``          15 O                                   teacher forcing
``33``         10 O, then 5 P
``0-20-33``    15 O; 12 O + 3 P; 10 O + 5 P           curriculum (boundaries)
``46-alt``     O P O P ... O (8 O, 7 P)               alternating every step
``46``         8 O, then 7 P
``67``         5 O, then 10 P
``0-100``      15 O; then 15 P                        curriculum (1 boundary)
``100``        15 P
=============  =====================================  =======================

Curricula switch after a number of updates (``boundaries``; by default
1000 and 2000 for ``0-20-33``, 1000 for ``0-100``, as the paper's
observed-only stretch of ``0-100``).

Truncated BPTT(15, k) (``chunks = k``) trains ``15 k`` steps: contiguous
patterns scale to ``k`` times as many O then P steps, the alternating one
repeats; the recurrent state and the fed-back frame are carried from one
chunk of 15 to the next, but no gradient flows across the boundary.
"""
import argparse
import dataclasses
from typing import Optional, Tuple

from recurrent_sim.utils.settings import Setting, SettingError, positive_int

PAPER_LENGTH = 15

# name -> tuple of stages; a stage is (observed steps, predicted steps) out of
# PAPER_LENGTH, or "alternate".
_STAGES = {
    "0": ((15, 0),),
    "33": ((10, 5),),
    "0-20-33": ((15, 0), (12, 3), (10, 5)),
    "46-alt": ("alternate",),
    "46": ((8, 7),),
    "67": ((5, 10),),
    "0-100": ((15, 0), (0, 15)),
    "100": ((0, 15),),
}
_DEFAULT_BOUNDARIES = {"0-20-33": (1000, 2000), "0-100": (1000,)}

SCHEME_NAMES = tuple(_STAGES)


def scheme_name(text) -> str:
    """argparse type: one of :data:`SCHEME_NAMES`, or '' for none."""
    if text and text not in _STAGES:
        raise argparse.ArgumentTypeError(f"unknown scheme {text!r}; choose from {', '.join(SCHEME_NAMES)}")
    return text


def curriculum_updates(text) -> tuple:
    """argparse type: comma-separated increasing positive update counts, e.g. ``1000,2000``."""
    try:
        values = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1 or list(values) != sorted(set(values)):
        raise argparse.ArgumentTypeError(
            f"expected increasing positive update counts separated by commas, got {text!r}"
        )
    return values


SCHEME = Setting("scheme", "", "a training scheme of the paper, by its share of prediction-dependent steps at "
                 "T = 15: 0, 33 (10 observed then 5 predicted), 0-20-33, 46-alt, 46, 67, 0-100 or 100 (see "
                 "docs/fidelity.md); replaces the observed/predicted split, the warm-up stays", scheme_name)
BPTT_CHUNKS = Setting("bptt_chunks", 1, "with a scheme: k of truncated BPTT(15, k), k chunks of 15 steps with the "
                      "state carried over and no backprop across chunks", positive_int)
CURRICULUM = Setting("curriculum", (), "with a curriculum scheme (0-20-33, 0-100): updates at which it moves on, "
                     "e.g. 1000,2000 (the scheme's: 1000,2000 and 1000)", curriculum_updates,
                     original_flag="--curriculum-updates")
# An update after every curriculum boundary: ``plan(FINAL_UPDATE)`` is a
# scheme's last stage (what validation uses, so its errors compare across
# a whole run).
FINAL_UPDATE = 2**62


@dataclasses.dataclass(frozen=True)
class StepPlan:
    """The split of one training sequence.

    Attributes:
        warmup: real frames consumed before the trained steps (no backprop).
        pattern: one letter per trained step, ``O`` (real input) or ``P``
            (the model's own previous prediction as input).
        chunk: trained steps per truncated-BPTT chunk; gradients do not
            cross chunk boundaries. Equal to ``len(pattern)`` for none.
    """

    warmup: int
    pattern: str
    chunk: int

    def __post_init__(self):
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if not self.pattern or set(self.pattern) - {"O", "P"}:
            raise ValueError(f"pattern must be a non-empty string of O and P, got {self.pattern!r}")
        if self.warmup == 0 and self.pattern[0] == "P":
            raise ValueError("a prediction-dependent first step needs at least one warm-up frame")
        if self.chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {self.chunk}")

    @property
    def sequence_length(self) -> int:
        """Frames per training sequence: warmup + trained steps + 1."""
        return self.warmup + len(self.pattern) + 1

    @property
    def observed(self) -> int:
        """Number of observation-dependent trained steps."""
        return self.pattern.count("O")

    @property
    def predicted(self) -> int:
        """Number of prediction-dependent trained steps."""
        return self.pattern.count("P")

    # The original code's names, exact for contiguous plans.
    @property
    def unroll_dep(self) -> int:
        """Warm-up frames (the original code's ``unroll_dep``)."""
        return self.warmup

    @property
    def obs_dep(self) -> int:
        """Observation-dependent steps (the original code's ``obs_dep``)."""
        return self.observed

    @property
    def pred_dep(self) -> int:
        """Prediction-dependent steps (the original code's ``pred_dep``)."""
        return self.predicted

    def plan(self, update: int = 0) -> "StepPlan":
        """This plan (a fixed split is its own plan at every update)."""
        return self

    @classmethod
    def contiguous(cls, warmup: int, obs: int, pred: int) -> "StepPlan":
        """``obs`` observed then ``pred`` predicted steps, no truncation."""
        return cls(warmup, "O" * obs + "P" * pred, max(obs + pred, 1))


@dataclasses.dataclass(frozen=True)
class Scheme:
    """A named training scheme (see the module docstring).

    Attributes:
        name: one of :data:`SCHEME_NAMES`.
        warmup: warm-up frames (the paper's tau = 10).
        chunks: k of truncated BPTT(15, k); 1 for plain BPTT(15).
        boundaries: updates at which a curriculum moves to its next stage;
            None for the scheme's default.
    """

    name: str
    warmup: int = 10
    chunks: int = 1
    boundaries: Optional[Tuple[int, ...]] = None

    def __post_init__(self):
        if self.name not in _STAGES:
            raise ValueError(f"unknown scheme {self.name!r}; choose from {', '.join(SCHEME_NAMES)}")
        if self.chunks < 1:
            raise ValueError(f"chunks must be >= 1, got {self.chunks}")
        stages = len(_STAGES[self.name])
        bounds = self.stage_boundaries
        if len(bounds) != stages - 1:
            raise ValueError(f"scheme {self.name} needs {stages - 1} boundaries, got {len(bounds)}")
        if any(b <= 0 for b in bounds) or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"boundaries must be increasing positive update counts, got {bounds}")

    @property
    def stage_boundaries(self) -> Tuple[int, ...]:
        """Updates at which the curriculum advances (empty for fixed schemes)."""
        if self.boundaries is not None:
            return tuple(int(b) for b in self.boundaries)
        return _DEFAULT_BOUNDARIES.get(self.name, ())

    @property
    def sequence_length(self) -> int:
        """Frames per training sequence (the same in every stage)."""
        return self.warmup + PAPER_LENGTH * self.chunks + 1

    def plan(self, update: int) -> StepPlan:
        """The split used by update number ``update`` (0-based)."""
        stage = sum(1 for b in self.stage_boundaries if update >= b)
        spec = _STAGES[self.name][stage]
        if spec == "alternate":
            pattern = ("OP" * PAPER_LENGTH)[:PAPER_LENGTH] * self.chunks
        else:
            obs, pred = spec
            pattern = "O" * (obs * self.chunks) + "P" * (pred * self.chunks)
        return StepPlan(self.warmup, pattern, PAPER_LENGTH)

    def prediction_share(self, update: int) -> float:
        """Share of prediction-dependent trained steps at ``update``."""
        pattern = self.plan(update).pattern
        return pattern.count("P") / len(pattern)


def training_split(schedule, scheme="", chunks=1, curriculum=()):
    """What splits the training sequences: ``schedule`` (a ``SequenceSchedule``) when
    ``scheme`` is empty, else the named :class:`Scheme` with ``schedule.unroll_dep`` warm-up frames.

    Raises:
        SettingError: chunks or curriculum without a scheme, or a scheme that cannot work.
    """
    if not scheme:
        if chunks not in (None, 1):
            raise SettingError("bptt_chunks", "{flag} needs a scheme")
        if curriculum:
            raise SettingError("curriculum", "{flag} needs a scheme")
        return schedule
    try:
        return Scheme(scheme, schedule.unroll_dep, chunks or 1, tuple(curriculum or ()) or None)
    except ValueError as e:
        raise SettingError("scheme", f"{{flag}} {scheme}: {e}") from None
