"""Per-step prediction errors of a simulator and of two baselines.

All errors are mean squared errors per pixel with pixels scaled to [0, 1]
(uint8 frames are divided by 255). For each held-out sequence and each
prediction step k = 1..horizon three errors are kept:

* ``model``: the simulator's prediction of frame k after the warm-up;
* ``repeat_last``: the last real warm-up frame, repeated (no dynamics);
* ``mean_frame``: the simulator's mean image (no information at all).

Two PSNR averages are reported, because they answer different questions:

* ``psnr`` = 10 log10(1 / mean over sequences of the MSE): the PSNR of the
  average error, the number to compare with the MSE curve;
* ``psnr_seqavg`` = mean over sequences of 10 log10(1 / MSE of that
  sequence): the typical sequence's quality, less dominated by a few bad
  sequences. A sequence's MSE is floored at ``MSE_FLOOR`` (PSNR capped at
  100 dB) so an exact prediction does not make the mean infinite.
"""
import dataclasses
from typing import Dict, Optional

import numpy as np

PREDICTORS = ("model", "repeat_last", "mean_frame")
MSE_FLOOR = 1e-10  # PSNR cap of 100 dB
REPORT_STEPS = (1, 5, 10, 50, 100)  # the steps summarised (those within the horizon)
DEFAULT_THRESHOLD_FRACTION = 0.5


def as_unit_float(frames) -> np.ndarray:
    """uint8 frames (0..255) -> float64 in [0, 1]; float frames are taken as already in [0, 1]."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames.astype(np.float64) / 255.0
    return frames.astype(np.float64)


def per_step_mse(predictions, targets) -> np.ndarray:
    """Mean squared error per pixel, pixels in [0, 1], for every sequence and step.

    Args:
        predictions: (N, T, H, W) uint8 frames, float frames in [0, 1], or
            one (H, W) / (N, 1, H, W) frame broadcast over the steps
            ((N, T, 3, H, W) ... for RGB frames).
        targets: (N, T, H, W) uint8 real frames, (N, T, 3, H, W) RGB (the mean
            is then over the three channels' values too).
    Returns:
        (N, T) float64.
    """
    targets = as_unit_float(targets)
    if targets.ndim not in (4, 5):
        raise ValueError(f"targets must be (N, T, H, W) or (N, T, 3, H, W), got {targets.shape}")
    diff = as_unit_float(predictions) - targets
    return np.mean(np.square(diff), axis=tuple(range(2, targets.ndim)))


def psnr(mse) -> np.ndarray:
    """Peak signal-to-noise ratio in dB for pixels in [0, 1]: 10 log10(1 / MSE).

    MSE values are floored at ``MSE_FLOOR`` (100 dB).
    """
    return 10.0 * np.log10(1.0 / np.maximum(np.asarray(mse, dtype=np.float64), MSE_FLOOR))


def baseline_errors(frames, warmup, mean_image) -> Dict[str, np.ndarray]:
    """Per-step errors of the two baselines on recorded sequences.

    Args:
        frames: (N, warmup + horizon, H, W) uint8 real frames.
        warmup: number of real frames the simulator sees before predicting.
        mean_image: (H, W) float32 in [0, 1], the simulator's mean frame.
    Returns:
        {"repeat_last": (N, horizon), "mean_frame": (N, horizon)} float64.
    """
    targets = frames[:, warmup:]
    last = frames[:, warmup - 1 : warmup]  # (N, 1, H, W), broadcast over the steps
    return {
        "repeat_last": per_step_mse(last, targets),
        "mean_frame": per_step_mse(np.asarray(mean_image, dtype=np.float64)[None, None], targets),
    }


@dataclasses.dataclass
class ErrorCurves:
    """Per-sequence, per-step errors of the model and the baselines.

    Attributes:
        mse: predictor name -> (N, horizon) float64 MSE per pixel, pixels in [0, 1].
    """

    mse: Dict[str, np.ndarray]

    @property
    def horizon(self) -> int:
        return self.mse["model"].shape[1]

    @property
    def n_sequences(self) -> int:
        return self.mse["model"].shape[0]

    @property
    def steps(self) -> np.ndarray:
        """(horizon,) int steps 1..horizon."""
        return np.arange(1, self.horizon + 1)

    def mean(self, name) -> np.ndarray:
        """(horizon,) MSE averaged over sequences."""
        return self.mse[name].mean(axis=0)

    def sem(self, name) -> np.ndarray:
        """(horizon,) standard error of :meth:`mean` (0 for a single sequence)."""
        errors = self.mse[name]
        if len(errors) < 2:
            return np.zeros(errors.shape[1])
        return errors.std(axis=0, ddof=1) / np.sqrt(len(errors))

    def psnr(self, name) -> np.ndarray:
        """(horizon,) PSNR of the mean MSE, dB."""
        return psnr(self.mean(name))

    def psnr_seqavg(self, name) -> np.ndarray:
        """(horizon,) mean over sequences of each sequence's PSNR, dB."""
        return psnr(self.mse[name]).mean(axis=0)

    def ratio_to_best_baseline(self) -> np.ndarray:
        """(horizon,) model MSE / min(repeat-last-frame MSE, mean-frame MSE) at each step.

        Below 1: the model beats both baselines at that step; 1: it is as
        good as the better of them (inf where both baselines are exact).
        """
        best = np.minimum(self.mean("repeat_last"), self.mean("mean_frame"))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(best > 0, self.mean("model") / np.where(best > 0, best, 1), np.inf)

    def table(self) -> Dict[str, np.ndarray]:
        """Columns of ``metrics.csv``, each (horizon,), in order."""
        columns = {"step": self.steps}
        for name in PREDICTORS:
            columns[f"{name}_mse"] = self.mean(name)
        columns["model_mse_sem"] = self.sem("model")
        columns["ratio_to_best_baseline"] = self.ratio_to_best_baseline()
        for name in PREDICTORS:
            columns[f"{name}_psnr"] = self.psnr(name)
        for name in PREDICTORS:
            columns[f"{name}_psnr_seqavg"] = self.psnr_seqavg(name)
        return columns


def threshold_from_fraction(curves: ErrorCurves, fraction=DEFAULT_THRESHOLD_FRACTION) -> float:
    """MSE threshold = ``fraction`` x the mean-frame baseline's error averaged over the horizon.

    The mean frame's error is the pixel variance of the game around its
    average picture, so a model below ``fraction`` of it still explains at
    least ``1 - fraction`` of that variance.
    """
    return float(fraction * curves.mean("mean_frame").mean())


def accurate_horizon(model_mse, threshold) -> Optional[int]:
    """First step (1-based) whose mean model MSE exceeds ``threshold``; None if none does.

    Args:
        model_mse: (horizon,) mean MSE per step.
        threshold: MSE per pixel, pixels in [0, 1].
    """
    over = np.flatnonzero(np.asarray(model_mse) > threshold)
    return int(over[0]) + 1 if len(over) else None


def report_steps(horizon):
    """The steps of ``REPORT_STEPS`` within 1..horizon, and the last step ``horizon``."""
    steps = [step for step in REPORT_STEPS if step <= horizon]
    return steps if steps[-1] == horizon else steps + [horizon]
