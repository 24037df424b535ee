"""``recurrent-sim bench``: throughput of training, the simulated and the real game.

Prints a table (see :mod:`recurrent_sim.benchmark`) and, with ``--out``, writes
the full record as JSON. Set ``OMP_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` to the number of cores to use before starting it.
"""
import json
import os

from recurrent_sim.benchmark.settings import (
    BENCH_ENV,
    BENCH_HIDDEN_SIZE,
    BENCH_PRED_DEP,
    ENV_STEPS,
    INFERENCE_BATCH,
    INFERENCE_STEPS,
    REFERENCE_REPEATS,
    REPEATS,
)
from recurrent_sim.commands.common import add_env_arguments, add_sequence_arguments, run_settings, sequence_schedule
from recurrent_sim.commands.flags import OUT, QUICK
from recurrent_sim.commands.validation import check_agent_frame_size, check_simulator_memory, one_line_errors
from recurrent_sim.models import HIDDEN_SIZE, SimulatorConfig
from recurrent_sim.models.footprint import MAX_ACTIONS
from recurrent_sim.training.run_settings import BATCH_SIZE
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.run_folder import run_record

# --quick: a smoke run in seconds (tests), not a measurement.
QUICK_SIZES = dict(hidden_size=32, batch_size=2, unroll_dep=2, obs_dep=2, pred_dep=2, inference_batch=4,
             inference_steps=3, env_steps=60, repeats=1)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "bench",
        help="measure training, simulator and game throughput",
        description="Time simulator training (fast path and the plain step-by-step reference, side by "
        "side), the simulator stepping 1 and many games, and the real game; print a table and "
        "optionally write JSON. Takes a few minutes with the defaults.",
    )
    one_line_errors(parser)
    add_env_arguments(parser, default_env=BENCH_ENV)
    add_sequence_arguments(parser, pred_dep=BENCH_PRED_DEP)  # the benchmark's configuration predicts 15 steps
    HIDDEN_SIZE.add_to(parser, default=BENCH_HIDDEN_SIZE)
    BATCH_SIZE.add_to(parser, help="sequences per training update")
    for setting in (INFERENCE_BATCH, INFERENCE_STEPS, ENV_STEPS, REPEATS, REFERENCE_REPEATS):
        setting.add_to(parser)
    QUICK.add_to(parser, show_default=False)
    OUT.add_to(parser, help="write the results as JSON to this file", metavar="FILE", default_text="none")
    parser.set_defaults(func=run)


def write_json(path, report):
    """Write ``report`` to ``path`` atomically (a failed write leaves the old file)."""
    from recurrent_sim.utils.files import atomic_write

    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError(f"--out {path}: folder {directory} does not exist")
    text = json.dumps(report, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def run(args) -> int:
    from recurrent_sim.benchmark import BenchSettings, format_table, run_benchmark

    if args.quick:
        for name, value in QUICK_SIZES.items():
            setattr(args, name, value)
        args.reference_repeats = min(args.reference_repeats, 1)
    if args.out is not None and os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is a folder; give a file name")
    if args.out is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise UserError(f"--out {args.out}: folder {os.path.dirname(os.path.abspath(args.out))} does not exist")
    use_device(args.gpu)  # fails early, in one line, without CuPy or the device
    schedule = sequence_schedule(args)
    try:
        config = SimulatorConfig((args.frame_size, args.frame_size), MAX_ACTIONS, args.hidden_size)
    except ValueError as e:
        raise UserError(f"cannot build a simulator with these sizes: {e}") from None
    check_agent_frame_size(args.frame_size, "the bench times the game played by it; use a larger --frame-size")
    check_simulator_memory(config, "adam", args.batch_size, schedule.sequence_length - 1,
                           "--hidden-size, --frame-size or --batch-size")
    check_simulator_memory(config, batch_size=args.inference_batch, flags="--inference-batch")
    settings = BenchSettings(
        env_id=args.env,
        frame_size=args.frame_size,
        hidden_size=args.hidden_size,
        batch_size=args.batch_size,
        schedule=schedule,
        inference_batch=args.inference_batch,
        inference_steps=args.inference_steps,
        env_steps=args.env_steps,
        repeats=args.repeats,
        reference_repeats=max(args.reference_repeats, 1),
        reference=args.reference_repeats > 0,
        seed=args.seed,
        gpu=args.gpu,
    )
    report = run_benchmark(settings)
    report["run"] = run_record(run_settings(args))
    print(format_table(report))
    if args.out is not None:
        write_json(args.out, report)
        print(f"results written to {args.out}")
    return 0
