"""The ``recurrent-sim`` command line: one sub-command per module of
:mod:`recurrent_sim.commands` that defines ``add_parser``.

Each command module defines ``add_parser(subparsers)``, which registers its
parser and sets ``func`` to a ``run(args) -> int`` function. Errors a user
can cause (:class:`UserError` and its subclasses) are printed as one line
and exit with status 2; values that are not finite (never saved), errors of
the operating system (disk full, read-only, permission) and memory
exhaustion are printed as one line and exit with status 1 (see
:func:`recurrent_sim.utils.failures.failure_line`); Ctrl-C exits with 130.
"""
import argparse
import importlib
import logging
import pkgutil
import sys

from recurrent_sim import commands
from recurrent_sim.utils.cuda import require_cuda
from recurrent_sim.utils.failures import report_failure
from recurrent_sim.utils.settings import SETTINGS, SettingError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recurrent-sim",
        description="Learn and measure recurrent simulators of Atari games.",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "add_parser"):  # shared modules (flags, checks) define no command
            module.add_parser(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a bad flag already reported in one line
        return e.code
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        require_cuda(getattr(args, "gpu", -1))
        return int(args.func(args) or 0)
    except SettingError as e:  # the library names the setting; the user knows the flag
        print(f"recurrent-sim {args.command}: error: {e.message_for(SETTINGS[e.setting].flag)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"recurrent-sim {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        return report_failure(f"recurrent-sim {args.command}", e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
