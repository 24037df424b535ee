"""The ``recurrent-sim`` command line: one sub-command per module of
:mod:`recurrent_sim.commands` that defines ``add_parser``.

Each command module defines ``add_parser(subparsers)``, which registers its
parser and sets ``func`` to a ``run(args) -> int`` function. Errors a user
can cause (:class:`UserError` and its subclasses) are printed as one line
and exit with status 2; values that are not finite (never saved), errors of
the operating system (disk full, read-only, permission) and memory
exhaustion are printed as one line and exit with status 1 (see
:func:`recurrent_sim.utils.failures.failure_line`); Ctrl-C exits with 130
and SIGTERM with 143, in one line, at any moment (while the modules load
too: :func:`recurrent_sim.utils.signals.quiet_interrupt_while_loading`).
"""
import argparse
import importlib
import logging
import pkgutil
import sys

from recurrent_sim.utils.signals import end_on_sigterm, interruption_line, signals_deferred


def build_parser() -> argparse.ArgumentParser:
    from recurrent_sim import commands
    from recurrent_sim.commands.flags import LOG_LEVEL

    parser = argparse.ArgumentParser(
        prog="recurrent-sim",
        description="Learn and measure recurrent simulators of Atari games.",
    )
    LOG_LEVEL.add_to(parser)
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
    prog = ["recurrent-sim"]  # with the command's name once it is known
    try:
        with end_on_sigterm():
            return _main(argv, prog)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM, loading modules included
        message, status = interruption_line(e)
        print(f"{prog[0]}: {message}", file=sys.stderr)
        return status


def _main(argv, prog) -> int:
    with signals_deferred():  # a signal while the commands' modules load is taken once they are loaded
        from recurrent_sim.commands.flags import check_values, sub_parsers
        from recurrent_sim.utils.cuda import require_cuda
        from recurrent_sim.utils.failures import report_failure
        from recurrent_sim.utils.files import write_undecodable_names
        from recurrent_sim.utils.settings import SETTINGS, SettingError

        parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a bad flag already reported in one line
        return e.code
    prog[0] = f"recurrent-sim {args.command}"
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    write_undecodable_names()  # an --out whose name is not UTF-8 is printed, not a crash
    try:
        check_values(sub_parsers(parser)[args.command], args)  # the ranges argparse leaves to the settings
        require_cuda(getattr(args, "gpu", -1))
        return int(args.func(args) or 0)
    except SettingError as e:  # the library names the setting; the user knows the flag
        print(f"{prog[0]}: error: {e.message_for(SETTINGS[e.setting].flag)}", file=sys.stderr)
        return 2
    except Exception as e:
        return report_failure(prog[0], e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
