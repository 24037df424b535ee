"""Measuring a simulator: open-loop prediction error over many steps against baselines.

:func:`record_sequences` records held-out sequences from the real game,
:func:`evaluate_simulator` predicts them after a warm-up and measures the
per-step errors (:class:`ErrorCurves`), the object measures
(:class:`ObjectCurves`, :mod:`.objects`) and, for a game that tells where its
objects are, their position errors (:class:`PositionCurves`,
:mod:`.positions`); :mod:`.report` / :mod:`.plots` write ``metrics.csv``,
``summary.json``, ``error_curve.png``, ``object_curve.png`` and the rollout
animation. ``recurrent-sim evaluate`` runs all of it.
"""
from recurrent_sim.evaluation.evaluator import Evaluation, evaluate_simulator  # NOQA
from recurrent_sim.evaluation.metrics import (  # NOQA
    DEFAULT_THRESHOLD_FRACTION,
    PREDICTORS,
    ErrorCurves,
    accurate_horizon,
    baseline_errors,
    per_step_mse,
    psnr,
    report_steps,
    threshold_from_fraction,
)
from recurrent_sim.evaluation.objects import (  # NOQA
    DEFAULT_DISTANCE as DEFAULT_OBJECT_DISTANCE,
    DEFAULT_LEVEL as DEFAULT_OBJECT_LEVEL,
    ObjectCurves,
    batch_object_measures,
    object_horizon,
)
from recurrent_sim.evaluation.plots import plot_error_curve, plot_object_curve  # NOQA
from recurrent_sim.evaluation.positions import PositionCurves, TrackedObject, locate, position_errors  # NOQA
from recurrent_sim.evaluation.report import (  # NOQA
    build_summary,
    head_lines,
    object_lines,
    write_metrics_csv,
    write_rollout,
    write_summary_json,
)
from recurrent_sim.evaluation.rollouts import (  # NOQA
    HeldOutSequence,
    predict_rollouts,
    record_sequences,
)
