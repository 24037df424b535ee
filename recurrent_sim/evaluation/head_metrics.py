"""How well a simulator's heads predict reward, episode end and their own error (pure numpy).

Inputs are per sequence and per step of the horizon, with a mask of the
steps that happened (a sequence whose episode ended at step k has no steps
after k). Every figure is given per step of the horizon and over all steps.

Baselines (what the heads must beat):

* reward: the majority class, the class of reward most frequent among the
  evaluated steps (at that step, for per-step figures), predicted always;
  its accuracy is that class's share.
* episode end: the majority class, "the episode goes on", predicted always:
  precision and recall 0 (no end ever predicted).
* drift: the Spearman rank correlation of the error estimate with the true
  per-step error; 0 for an estimate unrelated to the error.
"""
import numpy as np

from recurrent_sim.models.heads import REWARD_CLASSES

N_CLASSES = len(REWARD_CLASSES)


def confusion(true_classes, predicted_classes) -> np.ndarray:
    """(3, 3) int64 counts: row = true class, column = predicted (negative, zero, positive)."""
    true_classes = np.asarray(true_classes, dtype=np.int64).ravel()
    predicted_classes = np.asarray(predicted_classes, dtype=np.int64).ravel()
    return np.bincount(true_classes * N_CLASSES + predicted_classes, minlength=N_CLASSES**2).reshape(N_CLASSES, -1)


def accuracy(matrix) -> float:
    """Share of correct predictions of a confusion matrix (nan when it is empty)."""
    total = matrix.sum()
    return float(np.trace(matrix) / total) if total else float("nan")


def majority_accuracy(matrix) -> float:
    """Accuracy of always predicting the most frequent true class (nan when empty)."""
    total = matrix.sum()
    return float(matrix.sum(axis=1).max() / total) if total else float("nan")


def precision_recall(true_ends, predicted_ends):
    """(precision, recall, f1) of boolean episode-end predictions; 0 where undefined (nothing predicted / true)."""
    true_ends = np.asarray(true_ends, dtype=bool).ravel()
    predicted_ends = np.asarray(predicted_ends, dtype=bool).ravel()
    hits = np.count_nonzero(true_ends & predicted_ends)
    predicted, actual = np.count_nonzero(predicted_ends), np.count_nonzero(true_ends)
    precision = hits / predicted if predicted else 0.0
    recall = hits / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


def ranks(values) -> np.ndarray:
    """1-based ranks of ``values`` (1-D), ties sharing their average rank."""
    _, inverse, counts = np.unique(np.asarray(values, dtype=np.float64), return_inverse=True, return_counts=True)
    average = np.cumsum(counts) - (counts - 1) / 2.0
    return average[inverse]


def spearman(x, y) -> float:
    """Spearman rank correlation of two 1-D arrays (nan with fewer than 2 values or a constant one)."""
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if len(x) != len(y):
        raise ValueError(f"spearman needs arrays of one length, got {len(x)} and {len(y)}")
    if len(x) < 2:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / norm) if norm > 0 else float("nan")


def head_figures(valid, true_rewards, predicted_rewards, true_ends, done_probabilities, error_estimates=None,
                 true_errors=None, error_valid=None, done_threshold=0.5) -> dict:
    """Every figure of the heads, per step of the horizon and over all steps.

    Args:
        valid: (N, horizon) bool, the steps that happened.
        true_rewards: (N, horizon) int reward classes of the real game (0, 1, 2).
        predicted_rewards: (N, horizon) int classes the reward head ranks first.
        true_ends: (N, horizon) bool, the real game's episode ends.
        done_probabilities: (N, horizon) float, the episode-end head's probabilities.
        error_estimates, true_errors: (N, horizon) float, the error head's
            estimate and the true MSE per pixel of each predicted frame (optional).
        error_valid: (N, horizon) bool, the steps whose true error is known (default: ``valid``).
        done_threshold: probability above which an episode end is predicted.
    Returns:
        dict with ``per_step`` (lists of length horizon: reward_accuracy,
        reward_baseline_accuracy, done_precision, done_recall, done_f1,
        drift_spearman, steps) and ``overall`` (the same over all steps,
        plus ``reward_confusion`` (3x3 list), ``done_counts`` and, with the
        error estimates, ``drift_spearman`` over all steps pooled and
        ``drift_spearman_mean_over_steps``).
    """
    valid = np.asarray(valid, dtype=bool)
    predicted_ends = np.asarray(done_probabilities) > done_threshold
    horizon = valid.shape[1]
    per_step = {name: [] for name in ("steps", "reward_accuracy", "reward_baseline_accuracy", "done_precision",
                                      "done_recall", "done_f1", "drift_spearman")}
    with_errors = error_estimates is not None and true_errors is not None
    error_valid = valid if error_valid is None else np.asarray(error_valid, dtype=bool)
    for k in range(horizon):
        rows = valid[:, k]
        matrix = confusion(np.asarray(true_rewards)[rows, k], np.asarray(predicted_rewards)[rows, k])
        precision, recall, f1 = precision_recall(np.asarray(true_ends)[rows, k], predicted_ends[rows, k])
        per_step["steps"].append(int(rows.sum()))
        per_step["reward_accuracy"].append(accuracy(matrix))
        per_step["reward_baseline_accuracy"].append(majority_accuracy(matrix))
        per_step["done_precision"].append(precision)
        per_step["done_recall"].append(recall)
        per_step["done_f1"].append(f1)
        rows_e = error_valid[:, k]
        per_step["drift_spearman"].append(
            spearman(np.asarray(error_estimates)[rows_e, k], np.asarray(true_errors)[rows_e, k])
            if with_errors else float("nan"))
    matrix = confusion(np.asarray(true_rewards)[valid], np.asarray(predicted_rewards)[valid])
    precision, recall, f1 = precision_recall(np.asarray(true_ends)[valid], predicted_ends[valid])
    ends = np.asarray(true_ends)[valid]
    overall = dict(
        steps=int(valid.sum()), reward_accuracy=accuracy(matrix), reward_baseline_accuracy=majority_accuracy(matrix),
        reward_confusion=matrix.tolist(), done_precision=precision, done_recall=recall, done_f1=f1,
        done_baseline_precision=0.0, done_baseline_recall=0.0, done_baseline_f1=0.0,
        done_counts=dict(true=int(ends.sum()), predicted=int(predicted_ends[valid].sum()),
                         hits=int((ends & predicted_ends[valid]).sum())),
    )
    if with_errors:
        overall["drift_spearman"] = spearman(np.asarray(error_estimates)[error_valid],
                                             np.asarray(true_errors)[error_valid])
        finite = [r for r in per_step["drift_spearman"] if np.isfinite(r)]
        overall["drift_spearman_mean_over_steps"] = float(np.mean(finite)) if finite else float("nan")
    return dict(per_step=per_step, overall=overall)
