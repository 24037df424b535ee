"""An agent's learning curve from chainerrl's ``scores.txt``, drawn as a PNG.

``scores.txt`` (written by the original script and by chainerrl's
evaluator) is tab-separated with a header row; the columns used here are
``steps`` (agent steps so far), ``episodes`` (how many returns the row
sums up), ``mean``, ``min`` and ``max`` (of those returns). The original
script's last row sums up the training episodes; ``--episodes N`` keeps
only the rows of N episodes, the evaluations. Several runs (seeds) are drawn on one
figure, with horizontal lines for reference returns (random play, a target).

From the shell::

    python -m recurrent_sim.evaluation.learning_curve docs/images/curve.png RUN_DIR [RUN_DIR ...] \\
        --label "seed 0" --reference "random play=1.78"
"""
import argparse
import os
import sys

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recurrent_sim.evaluation.plots import DPI, FIGURE_SIZE
from recurrent_sim.utils.files import atomic_write

SCORES_FILENAME = "scores.txt"
COLUMNS = ("steps", "episodes", "mean", "min", "max")


def read_scores(path) -> dict:
    """The rows of a ``scores.txt`` (or of the one in folder ``path``).

    Returns:
        {"steps", "episodes", "mean", "min", "max"}: (rows,) float64 arrays in file order.
    Raises:
        ValueError: the file has no such columns, or a value is not a number.
        OSError: the file cannot be read.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, SCORES_FILENAME)
    with open(path) as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    if not lines:
        raise ValueError(f"{path} is empty")
    header = lines[0]
    missing = [name for name in COLUMNS if name not in header]
    if missing:
        raise ValueError(f"{path} has no column {', '.join(missing)} (not a chainerrl scores.txt)")
    rows = {name: [] for name in COLUMNS}
    for number, fields in enumerate(lines[1:], start=2):
        try:
            for name in COLUMNS:
                rows[name].append(float(fields[header.index(name)]))
        except (IndexError, ValueError):
            raise ValueError(f"{path}, line {number}: not a row of numbers") from None
    return {name: np.asarray(values, dtype=np.float64) for name, values in rows.items()}


def rows_of(scores, episodes) -> dict:
    """The rows of ``scores`` (as :func:`read_scores` returns) that sum up ``episodes`` episodes."""
    keep = scores["episodes"] == episodes
    return {name: values[keep] for name, values in scores.items()}


def plot_learning_curve(path, runs, references=(), title=None):
    """Write ``path`` (PNG, 800 x 500 pixels): mean return against agent steps, one line per run;
    a single run has its min-max band shaded.

    Args:
        path: output file.
        runs: sequence of (label, scores) with scores as :func:`read_scores` returns.
        references: sequence of (label, return) drawn as horizontal dashed lines.
        title: figure title.
    """
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for label, scores in runs:
        (line,) = axes.plot(scores["steps"], scores["mean"], marker="o", markersize=3, label=label)
        if len(runs) == 1:
            axes.fill_between(scores["steps"], scores["min"], scores["max"], color=line.get_color(), alpha=0.15,
                              linewidth=0, label="min to max")
    for (label, value), style in zip(references, ("--", ":", "-.")):
        axes.axhline(value, color="gray", linestyle=style, linewidth=1.2, label=f"{label}: {value:g}")
    axes.set_xlabel("agent steps")
    axes.set_ylabel("mean return per episode")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    axes.set_title(title or "learning curve")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write(os.fspath(path), lambda f: figure.savefig(f, dpi=DPI, format="png"))


def _reference(text):
    label, _, value = text.rpartition("=")
    try:
        return label or "reference", float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LABEL=NUMBER, got {text!r}") from None


def main(argv=None) -> int:
    """Command line: ``OUT.png RUN [RUN ...] [--label L ...] [--reference LABEL=VALUE ...] [--title T]``."""
    parser = argparse.ArgumentParser(prog="python -m recurrent_sim.evaluation.learning_curve",
                                     description="Draw agents' learning curves from chainerrl scores.txt files.")
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("runs", nargs="+", help="scores.txt files or the run folders holding them")
    parser.add_argument("--label", action="append", default=[], help="label of each run, in order (default: its path)")
    parser.add_argument("--reference", action="append", default=[], type=_reference,
                        help="LABEL=RETURN drawn as a horizontal line (repeatable)")
    parser.add_argument("--episodes", type=int, default=None,
                        help="draw only the rows of this many episodes (the evaluations; default: every row)")
    parser.add_argument("--title", default=None, help="figure title")
    args = parser.parse_args(argv)
    if len(args.label) > len(args.runs):
        parser.error(f"{len(args.label)} --label for {len(args.runs)} runs")
    labels = args.label + args.runs[len(args.label):]
    try:
        runs = [(label, read_scores(run)) for label, run in zip(labels, args.runs)]
        if args.episodes is not None:
            runs = [(label, rows_of(scores, args.episodes)) for label, scores in runs]
    except (OSError, ValueError) as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 2
    plot_learning_curve(args.out, runs, args.reference, args.title)
    print(f"learning curve in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
