"""The columns of a training run's log, from the names of its loss function's metrics.

For metrics ``error``, ``obs_mse``, ``pred_mse`` a run logs ``train_error``,
``train_obs_mse``, ``train_pred_mse`` and the same with ``validation_``,
between the counters :data:`LEADING_FIELDS` and :data:`TRAILING_FIELDS`.
"""

LEADING_FIELDS = ("update", "sequences_seen")
TRAILING_FIELDS = ("skipped_batches", "frames_per_second", "elapsed_seconds")


def log_fields(metric_names) -> tuple:
    """The columns of a run whose loss reports ``metric_names``."""
    metric_names = tuple(metric_names)
    return (
        LEADING_FIELDS
        + tuple("train_" + name for name in metric_names)
        + tuple("validation_" + name for name in metric_names)
        + TRAILING_FIELDS
    )
