"""The log of a run: ``log.csv`` (appended row by row), ``log.json`` (rewritten),
TensorBoard scalars and ``training_curve.png``.

Its columns are named by the caller; a training run names them after its
loss function's metrics (``train_error``, ``validation_error`` ...). Every
numeric cell of a row is also written as a TensorBoard scalar (tag = column,
step = the row's ``step_field``), and :meth:`RunLog.draw` plots the
``curve_fields`` against the step, log scale, into ``training_curve.png``.
"""
import csv
import io
import json
import logging
import math
import os
import time

from recurrent_sim.utils.failures import append_text
from recurrent_sim.utils.files import atomic_write, display_path

logger = logging.getLogger(__name__)

LOG_FILE = "log.csv"
CURVE_FILE = "training_curve.png"


class RunLog:
    """Rows of a run (dicts: field -> float or int), kept in memory and on disk in ``folder``.

    Args:
        folder: the run folder.
        fields: the CSV columns, in order.
        rows: rows already logged (a resumed run).
        step_field: the column that counts steps (the x axis).
        curve_fields: the columns drawn in ``training_curve.png`` (default:
            every column but the step).
        tensorboard: also write TensorBoard event files.
        draw_interval: seconds between redraws of the curve by :meth:`write`
            (:meth:`close` always draws).

    ``log.csv`` gets one line per :meth:`append` (an empty cell for a field
    the row lacks); ``log.json`` (``{"fields": [...], "rows": [...]}``) is
    rewritten atomically by :meth:`write`, which also redraws the curve.
    """

    def __init__(self, folder, fields, rows=(), step_field="update", curve_fields=None, tensorboard=True,
                 draw_interval=60.0):
        self.folder = os.fspath(folder)
        self.fields = tuple(fields)
        self.rows = list(rows)
        self.step_field = step_field
        self.curve_fields = tuple(curve_fields) if curve_fields is not None else tuple(
            f for f in self.fields if f != step_field
        )
        self.tensorboard = tensorboard
        self.draw_interval = draw_interval
        self._writer = None
        self._drawn_at = None

    @property
    def csv_path(self) -> str:
        return os.path.join(self.folder, LOG_FILE)

    def open(self):
        """Start logging: continue the rows of the folder's ``log.json`` when it has the same
        fields (a continued collection), else start ``log.csv`` and ``log.json`` afresh; returns self."""
        try:
            with open(os.path.join(self.folder, "log.json"), encoding="utf-8") as f:
                saved = json.load(f)
            if tuple(saved["fields"]) == self.fields and os.path.exists(self.csv_path):
                self.rows = list(saved["rows"])
                return self
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.write(rewrite_csv=True)
        return self

    def _csv_lines(self, rows, header=False) -> str:
        """Lines of ``log.csv`` for ``rows`` (after the field names with ``header``): a cell per field,
        empty where the row lacks it, a float as Python's ``repr`` writes it."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        if header:
            writer.writerow(self.fields)
        writer.writerows([row.get(field) for field in self.fields] for row in rows)
        return text.getvalue()

    def write(self, rewrite_csv=False):
        """Rewrite ``log.json`` (and the curve, at most every ``draw_interval`` seconds); with
        ``rewrite_csv`` also ``log.csv`` from the rows in memory."""
        os.makedirs(self.folder, exist_ok=True)
        text = json.dumps({"fields": self.fields, "rows": self.rows}, indent=1) + "\n"
        atomic_write(os.path.join(self.folder, "log.json"), lambda f: f.write(text.encode("utf-8")))
        if rewrite_csv:
            lines = self._csv_lines(self.rows, header=True)
            atomic_write(self.csv_path, lambda f: f.write(lines.encode("utf-8")))
        if self.rows and (self._drawn_at is None or time.monotonic() - self._drawn_at >= self.draw_interval):
            self.draw()
        if self._writer is not None:
            self._writer.flush()

    def append(self, row):
        """Keep ``row``, append it to ``log.csv`` and to the TensorBoard events."""
        self.rows.append(row)
        append_text(self.csv_path, self._csv_lines([row]))
        if self.tensorboard and row.get(self.step_field) is not None:
            writer = self._tensorboard_writer()
            for field in self.fields:
                value = row.get(field)
                if field != self.step_field and isinstance(value, (int, float)) and math.isfinite(value):
                    writer.add_scalar(field, value, int(row[self.step_field]))

    def _tensorboard_writer(self):
        if self._writer is None:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(logdir=self.folder, flush_secs=30)
        return self._writer

    def draw(self):
        """Write ``training_curve.png``: each curve field against the step, log scale (nothing before a row)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        series = {}
        for field in self.curve_fields:
            points = [(row[self.step_field], row[field]) for row in self.rows
                      if isinstance(row.get(field), (int, float)) and math.isfinite(row[field])
                      and row.get(self.step_field) is not None]
            if points:
                series[field] = points
        if not series:
            return
        self._drawn_at = time.monotonic()
        figure = Figure(figsize=(8.0, 5.0), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot(1, 1, 1)
        positive = all(value > 0 for points in series.values() for _, value in points)
        for field, points in series.items():
            axes.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else None,
                      label=field)
        if positive:
            axes.set_yscale("log")
        axes.set_xlabel(self.step_field)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(loc="best", fontsize="small")
        axes.set_title(display_path(os.path.basename(os.path.abspath(self.folder))))
        path = os.path.join(self.folder, CURVE_FILE)
        atomic_write(path, lambda f: figure.savefig(f, dpi=100, format="png"))

    def close(self):
        """Draw the curve and close the TensorBoard writer."""
        if self.rows:
            self.draw()
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class MemoryLog(RunLog):
    """A :class:`RunLog` that keeps its rows in memory and writes nothing: the log of every rank
    but rank 0 in a data-parallel run (rank 0 writes the run's files)."""

    def open(self):
        return self

    def write(self, rewrite_csv=False):
        pass

    def append(self, row):
        self.rows.append(row)

    def draw(self):
        pass

    def close(self):
        pass
