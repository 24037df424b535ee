"""The log of a training run: ``log.csv`` (appended row by row) and ``log.json`` (rewritten).

Its columns come from the names of the loss function's metrics: for metrics
``error``, ``obs_mse``, ``pred_mse`` a run logs ``train_error``,
``train_obs_mse``, ``train_pred_mse`` and the same with ``validation_``,
between the counters :data:`LEADING_FIELDS` and :data:`TRAILING_FIELDS`.
"""
import json
import os

from recurrent_sim.utils.failures import append_text
from recurrent_sim.utils.files import atomic_write

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


class RunLog:
    """Rows of a run (dicts: field -> float or int), kept in memory and on disk in ``folder``.

    ``log.csv`` gets one line per :meth:`append` (an empty cell for a field
    the row lacks); ``log.json`` (``{"fields": [...], "rows": [...]}``) is
    rewritten atomically by :meth:`write`.
    """

    def __init__(self, folder, fields, rows=()):
        self.folder = os.fspath(folder)
        self.fields = tuple(fields)
        self.rows = list(rows)

    @property
    def csv_path(self) -> str:
        return os.path.join(self.folder, "log.csv")

    def _csv_line(self, row) -> str:
        return ",".join("" if row.get(field) is None else repr(row[field]) for field in self.fields)

    def write(self, rewrite_csv=False):
        """Rewrite ``log.json``; with ``rewrite_csv`` also ``log.csv`` from the rows in memory."""
        text = json.dumps({"fields": self.fields, "rows": self.rows}, indent=1) + "\n"
        atomic_write(os.path.join(self.folder, "log.json"), lambda f: f.write(text.encode("utf-8")))
        if rewrite_csv:
            lines = [",".join(self.fields)] + [self._csv_line(row) for row in self.rows]
            text = "\n".join(lines) + "\n"
            atomic_write(self.csv_path, lambda f: f.write(text.encode("utf-8")))

    def append(self, row):
        """Keep ``row`` and append it to ``log.csv``."""
        self.rows.append(row)
        append_text(self.csv_path, self._csv_line(row) + "\n")
