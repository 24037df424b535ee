"""``recurrent-sim evaluate``: how many steps a saved simulator stays close to the real game.

Plays the real game with an agent, records held-out sequences, warms the
simulator up on the first ``--warmup`` real frames of each and lets it
predict ``--horizon`` frames from the recorded actions alone. Writes, in
``--out``: ``metrics.csv`` (per-step errors of the model and two
baselines; object IoU, recall and precision of the model and of the last
frame repeated, and on BlockWorld the ball's and the square's position
errors; for a simulator with heads also reward accuracy, episode-end
precision/recall and the drift signal's rank correlation, beside their
baselines), ``summary.json``, ``error_curve.png``, ``object_curve.png``,
``rollout.gif`` and ``rollout_frames.png``.
"""
import logging
import os
import time

import numpy as np

from recurrent_sim.commands.common import add_simulator_source, run_settings, simulator_path
from recurrent_sim.commands.validation import game_frames, load_simulator, one_line_errors
from recurrent_sim.envs import ENV, FRAME_BUFFER_LENGTH, FRAME_SIZE
from recurrent_sim.commands.flags import (
    FPS, HORIZON, LOAD, MAX_GAP, OBJECT_DISTANCE, OBJECT_LEVEL, OUT, SEQUENCES, THRESHOLD, THRESHOLD_MSE, WARMUP,
)
from recurrent_sim.evaluation.metrics import DEFAULT_THRESHOLD_FRACTION
from recurrent_sim.training.run_settings import BATCH_SIZE
from recurrent_sim.utils.device import GPU
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.files import remove_stale_temporaries
from recurrent_sim.utils.run_folder import StagedOutputs, write_run_config
from recurrent_sim.utils.settings import SEED

logger = logging.getLogger(__name__)

# The files written in --out; ``remove_stale_temporaries`` removes what a killed evaluation left of them.
OUTPUT_FILES = ("metrics.csv", "summary.json", "error_curve.png", "object_curve.png", "rollout.gif", "rollout_frames.png",
                "config.json")
SEED_STREAM = 0x5EED_E7A1  # separates evaluation episodes from training ones played with the same --seed


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="measure a saved simulator: per-step error over a horizon against baselines",
        description=__doc__.split("\n\n")[1].replace("\n", " ").replace("``", ""),
    )
    add_simulator_source(parser, "the one to evaluate")
    one_line_errors(parser)
    ENV.add_to(parser, default=None, default_text=f"the checkpoint's, else {ENV.default}")
    LOAD.add_to(parser, default_text="the non-learning agent")
    OUT.add_to(parser, default="evaluation", help="output folder, created if missing")
    for setting in (WARMUP, HORIZON, SEQUENCES):
        setting.add_to(parser)
    BATCH_SIZE.add_to(parser, default=20, help="sequences predicted together, one forward pass per step")
    threshold = parser.add_mutually_exclusive_group()
    THRESHOLD.add_to(threshold, default_text=DEFAULT_THRESHOLD_FRACTION)
    THRESHOLD_MSE.add_to(threshold, default_text="none")
    for setting in (OBJECT_LEVEL, OBJECT_DISTANCE, MAX_GAP):
        setting.add_to(parser)
    SEED.add_to(parser, help="seed of the game, the agent and the gaps; same seed, same results")
    FRAME_SIZE.add_to(parser, default=None, help="side of the square frames, pixels (must match the checkpoint)",
                      default_text="the checkpoint's")
    FRAME_BUFFER_LENGTH.add_to(parser)
    FPS.add_to(parser)
    GPU.add_to(parser)
    parser.set_defaults(func=run)
    return parser


def check_arguments(args):
    """Raise UserError for values no evaluation can use (the ranges of the flags are their settings')."""
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a file; give a folder")


def load_evaluated_simulator(args):
    """The checkpoint and its simulator (see :func:`load_simulator`); the frame size checked against
    --frame-size, the recorded sequences against the memory available."""
    from recurrent_sim.training import CheckpointError
    from recurrent_sim.utils.memory import check_fits

    checkpoint, simulator = load_simulator(simulator_path(args), None, build=True, batch_size=args.batch_size,
                                           batch_flags="--batch-size")
    height, width = checkpoint.config.frame_shape
    if args.frame_size is not None and (args.frame_size, args.frame_size) != (height, width):
        raise CheckpointError(
            f"--frame-size {args.frame_size} does not match the {height}x{width} frames of {checkpoint.path}; "
            f"leave --frame-size out to use the checkpoint's"
        )
    recorded = args.sequences * (args.warmup + args.horizon + 1) * int(np.prod(checkpoint.config.image_shape))
    check_fits(recorded, f"{args.sequences} recorded sequences of {args.warmup + args.horizon + 1} frames",
               "lower --sequences, --warmup or --horizon")
    return checkpoint, simulator


def make_evaluation_game(args, checkpoint):
    """The real game at the simulator's frame size; its action count checked."""
    from recurrent_sim.envs import make_game
    from recurrent_sim.envs.synthetic import register_synthetic_envs
    from recurrent_sim.training import CheckpointError

    register_synthetic_envs()
    saved_env = checkpoint.metadata.get("env_id")
    env_id = args.env if args.env is not None else saved_env or ENV.default
    if saved_env and env_id != saved_env:
        logger.warning("evaluating on %s a simulator trained on %s", env_id, saved_env)
    game_seed, _, _ = seeds(args.seed)
    game = make_game(env_id, seed=game_seed, n_frames=args.frame_buffer_length, **game_frames(checkpoint))
    n_actions = game.action_space.n
    if n_actions != checkpoint.config.n_actions:
        raise CheckpointError(
            f"{checkpoint.path} was trained for {checkpoint.config.n_actions} actions but {env_id} has "
            f"{n_actions}; pass the --env it was trained on"
        )
    return env_id, game


def seeds(seed):
    """(game seed, agent seed, gap seed) derived from --seed."""
    state = np.random.SeedSequence([int(seed) % 2**32, SEED_STREAM]).generate_state(3)
    return tuple(int(s) % 2**31 for s in state)


def run(args) -> int:
    from recurrent_sim.agents import make_acting_agent
    from recurrent_sim.utils.device import use_device
    from recurrent_sim.evaluation import (
        accurate_horizon,
        build_summary,
        evaluate_simulator,
        head_lines,
        object_lines,
        plot_error_curve,
        plot_object_curve,
        record_sequences,
        report_steps,
        threshold_from_fraction,
        write_metrics_csv,
        write_rollout,
        write_summary_json,
    )
    from recurrent_sim.utils.progress import Progress

    check_arguments(args)
    checkpoint, simulator = load_evaluated_simulator(args)
    env_id, game = make_evaluation_game(args, checkpoint)
    height, width = checkpoint.config.frame_shape
    _, agent_seed, gap_seed = seeds(args.seed)
    agent = make_acting_agent(  # it sees gray frames of the simulator's size (RGB ones by their luminance)
        game.action_space.n,
        obs_shape=(args.frame_buffer_length, height, width),
        load=args.load,
        seed=agent_seed,
        gpu=args.gpu,
    )
    use_device(args.gpu, simulator)
    outputs = StagedOutputs(args.out, "--out")  # locks --out; this run's outputs replace an earlier run's at once
    remove_stale_temporaries(args.out, OUTPUT_FILES)  # left in --out by an evaluation killed mid-write

    started = time.time()
    sequences = record_sequences(
        game, agent.act, args.sequences, args.warmup + args.horizon, seed=gap_seed, max_gap=args.max_gap,
        keep_ended=args.warmup if simulator.has_heads else None,
    )
    progress = Progress(args.sequences * args.horizon, "evaluate", unit="frames")
    try:
        evaluation = evaluate_simulator(simulator, sequences, args.warmup, args.batch_size, progress=progress,
                                        object_level=args.object_level, object_distance=args.object_distance)
    except BaseException:
        if progress.is_tty and progress.count:  # end the bar's line before the error message
            progress.stream.write("\n")
        raise
    progress.close()
    evaluated = time.time() - started
    curves = evaluation.curves

    if args.threshold_mse is not None:
        threshold, fraction = args.threshold_mse, None
    else:
        fraction = args.threshold if args.threshold is not None else DEFAULT_THRESHOLD_FRACTION
        threshold = threshold_from_fraction(curves, fraction)
    horizon_step = accurate_horizon(curves.mean("model"), threshold)

    settings = {
        "env": env_id,
        "agent": args.load or "non-learning agent (random initial weights)",
        "seed": args.seed,
        "warmup": args.warmup,
        "horizon": args.horizon,
        "sequences": args.sequences,
        "batch_size": args.batch_size,
        "threshold": fraction,
        "threshold_mse": args.threshold_mse,
        "max_gap": args.max_gap,
        "object_level": args.object_level,
        "object_distance": args.object_distance,
        "frame_size": height if height == width else [height, width],
        "color": game_frames(checkpoint)["color"],
        "frame_buffer_length": args.frame_buffer_length,
        "gpu": args.gpu,
        "out": os.path.abspath(args.out),
    }
    checkpoint_info = {
        "path": os.path.abspath(checkpoint.path),
        "config": checkpoint.config.to_dict(),
        "metadata": checkpoint.metadata,
    }
    config = run_settings(args)
    args.out = outputs.stage  # every output is written there first, then moved into --out by commit()
    write_run_config(args.out, config)
    write_metrics_csv(os.path.join(args.out, "metrics.csv"), curves, evaluation.heads, evaluation.objects,
                      evaluation.positions)
    plot_error_curve(
        os.path.join(args.out, "error_curve.png"), curves, threshold=threshold, accurate_horizon=horizon_step,
        title=f"{env_id}: prediction error after {args.warmup} warm-up frames, {curves.n_sequences} sequences",
    )
    plot_object_curve(os.path.join(args.out, "object_curve.png"), evaluation.objects,
                      title=f"{env_id}: objects after {args.warmup} warm-up frames, {curves.n_sequences} sequences")
    write_rollout(
        os.path.join(args.out, "rollout.gif"), os.path.join(args.out, "rollout_frames.png"),
        evaluation.example_real, evaluation.example_predicted, fps=args.fps,
    )
    summary = build_summary(
        curves, threshold, fraction, horizon_step, settings, checkpoint_info,
        timing={"evaluation": round(evaluated, 3), "total": round(time.time() - started, 3)},
        heads=evaluation.heads, objects=evaluation.objects, positions=evaluation.positions,
    )
    write_summary_json(os.path.join(args.out, "summary.json"), summary)
    args.out = outputs.commit()

    for step in report_steps(curves.horizon):
        logger.info(
            "step %3d: MSE model %.6f, repeat last frame %.6f, mean frame %.6f (PSNR model %.2f dB); "
            "model / better baseline %.3f",
            step, curves.mean("model")[step - 1], curves.mean("repeat_last")[step - 1],
            curves.mean("mean_frame")[step - 1], curves.psnr("model")[step - 1],
            curves.ratio_to_best_baseline()[step - 1],
        )
    for line in object_lines(evaluation.objects, evaluation.positions):
        logger.info("%s", line)
    for line in head_lines(evaluation.heads, report_steps(curves.horizon)):
        logger.info("%s", line)
    if horizon_step is None:
        logger.info("accurate horizon: the model stays under MSE %.6g for all %d steps", threshold, curves.horizon)
    else:
        logger.info("accurate horizon: step %d is the first over MSE %.6g", horizon_step, threshold)
    logger.info("results written to %s", os.path.abspath(args.out))
    return 0
