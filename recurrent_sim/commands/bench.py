"""``recurrent-sim bench``: throughput of training, the simulated and the real game.

Prints a table (see :mod:`recurrent_sim.benchmark`) and, with ``--out``, writes
the full record as JSON. Set ``OMP_NUM_THREADS`` and
``OPENBLAS_NUM_THREADS`` to the number of cores to use before starting it.
"""
import json
import os

from recurrent_sim.commands.common import (
    add_env_arguments,
    add_sequence_arguments,
    non_negative_int,
    positive_int,
    sequence_schedule,
)
from recurrent_sim.commands.validation import check_simulator_memory, one_line_errors
from recurrent_sim.models import SimulatorConfig
from recurrent_sim.models.footprint import MAX_ACTIONS
from recurrent_sim.utils.device import use_device
from recurrent_sim.utils.errors import UserError

# --quick: a smoke run in seconds (tests), not a measurement.
QUICK = dict(hidden_size=32, batch_size=2, unroll_dep=2, obs_dep=2, pred_dep=2, inference_batch=4,
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
    add_env_arguments(parser, default_env="BreakoutDeterministic-v4")
    add_sequence_arguments(parser)
    for action in parser._actions:  # the benchmark's configuration predicts 15 steps
        if action.dest == "pred_dep":
            action.default = 15
            action.help = "prediction-dependent steps (default: 15)"
    parser.add_argument("--hidden-size", "--num_output_channels_sim", type=positive_int, default=512,
                        help="LSTM units of the simulator (default: 512)")
    parser.add_argument("--batch-size", "--batch_size", type=positive_int, default=16,
                        help="sequences per training update (default: 16)")
    parser.add_argument("--inference-batch", type=positive_int, default=64,
                        help="games stepped together by the batched simulator (default: 64)")
    parser.add_argument("--inference-steps", type=positive_int, default=40,
                        help="simulator steps per timed inference run (default: 40)")
    parser.add_argument("--env-steps", type=positive_int, default=1000,
                        help="game steps per timed game run (default: 1000)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="timed runs per measurement, after one untimed run; medians are "
                        "reported (default: 3)")
    parser.add_argument("--reference-repeats", type=non_negative_int, default=2,
                        help="timed runs of the step-by-step reference; 0 skips it (default: 2)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and one repeat: checks that everything runs, measures nothing")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
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
        for name, value in QUICK.items():
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
    print(format_table(report))
    if args.out is not None:
        write_json(args.out, report)
        print(f"results written to {args.out}")
    return 0
