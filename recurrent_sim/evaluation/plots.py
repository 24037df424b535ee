"""The error curve (the model's per-step error against the two baselines) and the object curve.

Drawn with matplotlib's Agg canvas directly (no pyplot, no display, no
global backend switch), so it works on headless machines and inside
programs that use another backend.
"""
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from recurrent_sim.evaluation.metrics import MSE_FLOOR
from recurrent_sim.evaluation.objects import RECALL_HORIZON
from recurrent_sim.utils.files import atomic_write

FIGURE_SIZE = (8.0, 5.0)  # inches
DPI = 100  # so the PNG is 800 x 500 pixels

_STYLE = {
    "model": dict(label="model", color="tab:blue", linewidth=2.0),
    "repeat_last": dict(label="repeat last warm-up frame", color="tab:orange", linestyle="--"),
    "mean_frame": dict(label="mean frame", color="tab:green", linestyle=":"),
}


def plot_error_curve(path, curves, threshold=None, accurate_horizon=None, title=None):
    """Write ``path`` (PNG, 800 x 500 pixels): MSE per step, log scale.

    Args:
        path: output file.
        curves: :class:`~recurrent_sim.evaluation.metrics.ErrorCurves`.
        threshold: MSE of the accurate-horizon threshold, drawn as a
            horizontal line (None: not drawn).
        accurate_horizon: first step over the threshold, drawn as a
            vertical line (None: not drawn).
        title: figure title.
    """
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    steps = curves.steps
    for name, style in _STYLE.items():
        axes.plot(steps, np.maximum(curves.mean(name), MSE_FLOOR), **style)
    low = np.maximum(curves.mean("model") - curves.sem("model"), MSE_FLOOR)
    high = np.maximum(curves.mean("model") + curves.sem("model"), MSE_FLOOR)
    axes.fill_between(steps, low, high, color="tab:blue", alpha=0.2, linewidth=0, label="model ± 1 s.e.")
    if threshold is not None:
        axes.axhline(threshold, color="gray", linewidth=1.0, label=f"threshold {threshold:.3g}")
    if accurate_horizon is not None:
        axes.axvline(accurate_horizon, color="tab:red", linewidth=1.0,
                     label=f"accurate horizon: step {accurate_horizon}")
    axes.set_yscale("log")
    axes.set_xlim(1, max(int(steps[-1]), 2))
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("prediction step (after the warm-up)")
    axes.set_ylabel("MSE per pixel (pixels in [0, 1])")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    axes.set_title(title or f"prediction error over {curves.n_sequences} sequences")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(os.fspath(path), lambda f: figure.savefig(f, dpi=DPI, format="png"))


OBJECT_FIGURE_SIZE = (8.0, 9.0)  # inches: 800 x 900 pixels
_OBJECT_PANELS = (("iou", "object IoU"), ("recall", "object recall"), ("precision", "object precision"))


def plot_object_curve(path, objects, title=None):
    """Write ``path`` (PNG, 800 x 900 pixels): object IoU, recall and precision per step, one panel each,
    model against the repeat-last-frame baseline; the recall panel marks the object horizon.

    Args:
        path: output file.
        objects: :class:`~recurrent_sim.evaluation.objects.ObjectCurves`.
        title: figure title.
    """
    figure = Figure(figsize=OBJECT_FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    horizon = objects.values["object_iou_model"].shape[1]
    steps = np.arange(1, horizon + 1)
    first = objects.horizon()
    for row, (measure, label) in enumerate(_OBJECT_PANELS):
        axes = figure.add_subplot(len(_OBJECT_PANELS), 1, row + 1)
        for predictor in ("model", "repeat_last"):
            axes.plot(steps, objects.mean(f"object_{measure}_{predictor}"), **_STYLE[predictor])
        if measure == "recall":
            axes.axhline(RECALL_HORIZON, color="gray", linewidth=1.0, label=f"recall {RECALL_HORIZON}")
            if first is not None:
                axes.axvline(first, color="tab:red", linewidth=1.0, label=f"object horizon: step {first}")
        axes.set_ylim(-0.02, 1.02)
        axes.set_xlim(1, max(horizon, 2))
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel(label)
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    axes.set_xlabel("prediction step (after the warm-up)")
    heading = title or f"objects over {objects.values['object_iou_model'].shape[0]} sequences"
    figure.suptitle(f"{heading}\nforeground: > {objects.level:g} gray levels from the still background; "
                    f"objects matched within {objects.distance:g} px", fontsize="medium")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(os.fspath(path), lambda f: figure.savefig(f, dpi=DPI, format="png"))
