"""Files of an evaluation: metrics.csv, summary.json, the rollout animation and frames.

Numbers are written with ``repr`` (shortest round-trip form), so a value
read back from ``metrics.csv`` equals the one in ``summary.json`` exactly.
CSV and JSON files are written atomically (see
:func:`recurrent_sim.training.checkpoint.atomic_write`).
"""
import csv
import io
import json
import math
import os

import numpy as np

from recurrent_sim.evaluation.metrics import PREDICTORS, report_steps
from recurrent_sim.evaluation.objects import RECALL_HORIZON
from recurrent_sim.utils.files import atomic_write
from recurrent_sim.utils.images import save_animation, save_png, side_by_side

PANEL_LABELS = ("real", "predicted", "|difference|")


def _write_text(path, text):
    """Write ``text`` atomically, readable like any file the user creates (umask applies)."""
    atomic_write(path, lambda f: f.write(text.encode()))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _number(value):
    """A JSON/CSV-safe Python number (NaN and infinities become None)."""
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def head_columns(heads) -> dict:
    """The per-step columns of the heads' figures (``head_steps``, ``reward_accuracy`` ...), or {}."""
    if not heads:
        return {}
    return {("head_steps" if name == "steps" else name): values for name, values in heads["per_step"].items()}


OBJECT_REPORT_STEPS = (1, 2, 5, 10, 20, 50, 100)  # the steps of the object figures (those within the horizon)


def object_columns(objects=None, positions=None) -> dict:
    """The per-step columns of the object measures and of the position errors (each may be None), or {}."""
    return dict(objects.table() if objects else {}, **(positions.table() if positions else {}))


def object_report_steps(horizon):
    """The steps of ``OBJECT_REPORT_STEPS`` within 1..horizon, and the last step ``horizon``."""
    steps = [step for step in OBJECT_REPORT_STEPS if step <= horizon]
    return steps if steps[-1] == horizon else steps + [horizon]


def write_metrics_csv(path, curves, heads=None, objects=None, positions=None):
    """One row per step 1..horizon with the columns of ``ErrorCurves.table``, then those of
    :func:`object_columns` (``objects``: :class:`~recurrent_sim.evaluation.objects.ObjectCurves`,
    ``positions``: :class:`~recurrent_sim.evaluation.positions.PositionCurves`), then those of
    :func:`head_columns` for a simulator with heads (``heads``: the figures of
    :func:`~recurrent_sim.evaluation.head_metrics.head_figures`)."""
    table = dict(curves.table(), **object_columns(objects, positions), **head_columns(heads))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(table))
    for i in range(curves.horizon):
        writer.writerow(["" if v is None else repr(v) for v in (_number(c[i]) for c in table.values())])
    _write_text(path, text.getvalue())


def step_values(curves, steps):
    """{step: {column: value}} for the given 1-based steps (the CSV's rows)."""
    table = curves.table()
    return {
        str(step): {name: _number(column[step - 1]) for name, column in table.items() if name != "step"}
        for step in steps
    }


def object_summary(objects, positions=None) -> dict:
    """The ``"objects"`` part of ``summary.json``: the settings of the measures, the object horizon,
    the columns of :func:`object_columns` at :func:`object_report_steps` and averaged over the horizon."""
    columns = object_columns(objects, positions)
    horizon = len(next(iter(columns.values())))
    first = objects.horizon()
    return {
        "level": objects.level,
        "distance": objects.distance,
        "object_horizon": {
            "first_step_recall_under": first,
            "recall_threshold": RECALL_HORIZON,
            "steps_before": horizon if first is None else first - 1,
        },
        "tracked_objects": list(positions.objects) if positions else [],
        "first_lost": positions.lost() if positions else {},
        "steps": {str(step): {name: _number(column[step - 1]) for name, column in columns.items()}
                  for step in object_report_steps(horizon)},
        "mean_over_horizon": {name: _number(np.mean(column)) for name, column in columns.items()},
        "definitions": {
            "foreground": f"pixels more than {objects.level:g} gray levels from the sequence's per-pixel "
                          "median real frame",
            "object_iou": "|real & predicted foreground| / |real | predicted|, 1 when both are empty",
            "object_recall": f"share of real objects (8-connected) whose centre is within {objects.distance:g} "
                             "pixels of predicted foreground, 1 when there is none",
            "object_precision": f"share of predicted objects whose centre is within {objects.distance:g} "
                                "pixels of real foreground, 1 when there is none",
            "position_error": "pixels between the object's true centre and the centre found in the frame",
            "first_lost": "sequences whose object the model first puts more than 1 pixel off within the horizon, "
                          "by where it then is: touching another object (overlapping or sharing an edge), "
                          "within a pixel of a wall, or in the open (the first that holds)",
        },
    }


def build_summary(curves, threshold, threshold_fraction, horizon_step, settings, checkpoint, timing=None, heads=None,
                  objects=None, positions=None):
    """The content of ``summary.json`` (a JSON-able dict).

    Args:
        curves: :class:`~recurrent_sim.evaluation.metrics.ErrorCurves`.
        threshold: MSE threshold of the accurate horizon.
        threshold_fraction: the threshold as a fraction of the mean-frame
            error (None when it was given as an absolute MSE).
        horizon_step: first step over the threshold, or None.
        settings: the evaluation's settings (flags).
        checkpoint: {"path", "config", "metadata"} of the simulator used.
        timing: optional {name: seconds}.
        heads: the heads' figures (see :func:`write_metrics_csv`), or None;
            summarised under ``"heads"``: over all steps, and at the reported steps.
        objects, positions: the object measures and position errors (see
            :func:`write_metrics_csv`), or None; under ``"objects"`` (:func:`object_summary`).
    """
    steps = report_steps(curves.horizon)
    means = {name: curves.mean(name) for name in PREDICTORS}
    summary = {
        "n_sequences": curves.n_sequences,
        "horizon": curves.horizon,
        "steps": step_values(curves, steps),
        "mean_over_horizon": {f"{name}_mse": _number(means[name].mean()) for name in PREDICTORS},
        "accurate_horizon": {
            "first_step_over_threshold": horizon_step,
            "accurate_steps": curves.horizon if horizon_step is None else horizon_step - 1,
            "threshold_mse": _number(threshold),
            "threshold_fraction_of_mean_frame_mse": threshold_fraction,
        },
        "psnr_averaging": {
            "psnr": "10 log10(1 / MSE averaged over sequences)",
            "psnr_seqavg": "mean over sequences of 10 log10(1 / MSE of the sequence), MSE floored at 1e-10",
        },
        "settings": settings,
        "checkpoint": checkpoint,
        "timing_s": timing or {},
    }
    if objects:
        summary["objects"] = object_summary(objects, positions)
    if heads:
        columns = head_columns(heads)
        summary["heads"] = {
            "overall": {name: value if isinstance(value, (list, dict)) else _number(value)
                        for name, value in heads["overall"].items()},
            "steps": {str(step): {name: _number(column[step - 1]) for name, column in columns.items()}
                      for step in steps},
        }
    return summary


def head_lines(heads, steps):
    """Lines that report the heads' figures at ``steps`` (1-based) and over all steps ([] without heads)."""
    if not heads:
        return []
    per_step, overall = heads["per_step"], heads["overall"]
    lines = [
        f"step {step:3d}: reward accuracy {per_step['reward_accuracy'][step - 1]:.3f} (majority class "
        f"{per_step['reward_baseline_accuracy'][step - 1]:.3f}), episode end precision "
        f"{per_step['done_precision'][step - 1]:.3f} recall {per_step['done_recall'][step - 1]:.3f} "
        f"(majority class 0 / 0), drift rank correlation {per_step['drift_spearman'][step - 1]:.3f} "
        f"({per_step['steps'][step - 1]} sequences)"
        for step in steps
    ]
    confusion = overall["reward_confusion"]
    lines.append(
        f"all {overall['steps']} steps: reward accuracy {overall['reward_accuracy']:.4f} (majority class "
        f"{overall['reward_baseline_accuracy']:.4f}; confusion true x predicted over negative/zero/positive "
        f"{confusion}), episode end precision {overall['done_precision']:.3f} recall {overall['done_recall']:.3f} "
        f"F1 {overall['done_f1']:.3f} ({overall['done_counts']['true']} true ends; majority class 0 / 0 / 0)"
    )
    if "drift_spearman" in overall:
        lines.append(f"drift signal: Spearman rank correlation with the true per-step error "
                     f"{overall['drift_spearman']:.3f} over all steps, {overall['drift_spearman_mean_over_steps']:.3f} "
                     "averaged over steps (0: unrelated)")
    return lines


def object_lines(objects, positions=None):
    """Lines that report the object measures (and the position errors) at :func:`object_report_steps`,
    then the object horizon ([] without ``objects``)."""
    if not objects:
        return []
    table = object_columns(objects, positions)
    horizon = len(table["object_iou_model"])
    lines = []
    for step in object_report_steps(horizon):
        row = {name: column[step - 1] for name, column in table.items()}
        lines.append(
            f"step {step:3d}: objects IoU model {row['object_iou_model']:.3f} (repeat last frame "
            f"{row['object_iou_repeat_last']:.3f}), recall {row['object_recall_model']:.3f} "
            f"({row['object_recall_repeat_last']:.3f}), precision {row['object_precision_model']:.3f} "
            f"({row['object_precision_repeat_last']:.3f})"
        )
        if positions:
            errors = ", ".join(f"{name} {row[f'{name}_position_error_model']:.2f} px "
                               f"({row[f'{name}_position_error_repeat_last']:.2f})" for name in positions.objects)
            within = ", ".join(f"{name} {100 * row[f'{name}_within_1px_model']:.0f}% "
                               f"({100 * row[f'{name}_within_1px_repeat_last']:.0f}%)" for name in positions.objects)
            lines.append(f"step {step:3d}: position error model (repeat last frame) {errors}; "
                         f"within 1 px: {within} of sequences")
    for name, lost in (positions.lost() if positions else {}).items():
        places = ", ".join(f"{count} {where}" for where, count in lost["places"].items())
        lines.append(f"{name} first more than 1 px off in {lost['lost']} of {lost['sequences']} sequences within "
                     f"{horizon} steps" + (f": {places}" if lost["lost"] else ""))
    first = objects.horizon()
    if first is None:
        lines.append(f"object horizon: the mean object recall stays at or above {RECALL_HORIZON} for all "
                     f"{horizon} steps")
    else:
        lines.append(f"object horizon: step {first} is the first whose mean object recall is under {RECALL_HORIZON}")
    return lines


def write_summary_json(path, summary):
    """Write ``summary`` as indented, key-sorted JSON."""
    text = json.dumps(summary, indent=2, sort_keys=True) + "\n"
    _write_text(path, text)


def panel_scale(width) -> int:
    """Integer zoom so a panel is about 168 pixels wide (2 for 84-pixel frames)."""
    return max(1, 168 // int(width))


def rollout_images(real, predicted):
    """One RGB image per step: real | predicted | |difference|, captioned with the step.

    Args:
        real: (horizon, H, W) uint8 real frames after the warm-up ((horizon, 3, H, W) RGB).
        predicted: the model's predictions of them, the same shape.
    Returns:
        list of horizon (H', W', 3) uint8 images, all of one size.
    """
    horizon, width = len(real), real.shape[-1]
    scale = panel_scale(width)
    difference = np.abs(real.astype(np.int16) - predicted.astype(np.int16)).astype(np.uint8)
    return [
        side_by_side(
            [real[k], predicted[k], difference[k]],
            labels=PANEL_LABELS,
            scale=scale,
            caption=f"step {k + 1}/{horizon}",
        )
        for k in range(horizon)
    ]


def write_rollout(gif_path, png_path, real, predicted, fps=10):
    """Write the rollout animation (all steps) and a still of the reported steps.

    The still stacks, top to bottom, the images of the steps of
    :func:`~recurrent_sim.evaluation.metrics.report_steps`.
    """
    images = rollout_images(real, predicted)
    save_animation(gif_path, images, fps=fps)
    still = np.concatenate([images[step - 1] for step in report_steps(len(images))], axis=0)
    save_png(png_path, still)
    return images
