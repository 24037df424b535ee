"""The docs' flag tables, generated from the settings behind each command's flags.

A table in ``docs/*.md`` sits between two comments::

    <!-- flags: evaluate -->            every flag of ``recurrent-sim evaluate``
    <!-- flags: train --updates --seed -->   only these flags, in this order
    ...
    <!-- end flags -->

``python -m recurrent_sim.commands.flag_tables`` rewrites every such table from
the parsers (``--check`` only lists the files whose tables differ, exit
status 1); ``tests/commands_tests/test_flags_from_settings.py`` fails while a
table differs from what the settings give.
"""
import argparse
import os
import re
import sys

from recurrent_sim.commands.flags import flag_actions, sub_parsers

BEGIN = re.compile(r"<!-- flags: (\S+)((?: --?\S+)*) -->\n")
END = "<!-- end flags -->"
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs")


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default(action) -> str:
    text = action.default_text
    if action.required:
        return "(required)"
    return "" if text is None or text is False or text == [] or text == () else _cell(text)


def _spelling(action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()} ...`" if action.nargs == "*" else f"`{action.dest}`"
    metavar = "" if action.nargs == 0 or action.metavar is None else f" {action.metavar}"
    return f"`{action.option_strings[0]}{metavar}`"


def flag_table(parser: argparse.ArgumentParser, flags=()) -> str:
    """The markdown table of ``parser``'s flags (all, or those spelled in ``flags``, in that order):
    flag, default (as the help reads it), meaning (the setting's help)."""
    actions = [a for a in flag_actions(parser) if a.option_strings or a.dest != "help"]
    if flags:
        by_flag = {spelling: a for a in actions for spelling in a.option_strings}
        unknown = [flag for flag in flags if flag not in by_flag]
        if unknown:
            raise ValueError(f"{parser.prog} has no flag {', '.join(unknown)}")
        actions = [by_flag[flag] for flag in flags]
    rows = ["| flag | default | meaning |", "|---|---|---|"]
    rows += [f"| {_spelling(a)} | {_default(a)} | {_cell(a.meaning)} |" for a in actions]
    return "\n".join(rows) + "\n"


def generated(text: str, commands: dict) -> str:
    """``text`` (a markdown file) with every marked table replaced by the generated one."""
    out, position = [], 0
    for begin in BEGIN.finditer(text):
        end = text.index(END, begin.end())
        command, flags = begin.group(1), begin.group(2).split()
        out += [text[position:begin.end()], flag_table(commands[command], flags)]
        position = end
    return "".join(out) + text[position:]


def stale_docs(folder=DOCS, write=False) -> list:
    """The markdown files of ``folder`` whose flag tables differ from the generated ones (rewritten
    when ``write``)."""
    from recurrent_sim.cli import build_parser

    commands = sub_parsers(build_parser())
    stale = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.endswith(".md"):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new = generated(text, commands)
        if new != text:
            stale.append(path)
            if write:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    return stale


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate the flag tables of docs/*.md from the settings.")
    parser.add_argument("--check", action="store_true", help="only list the files whose tables differ")
    args = parser.parse_args(argv)
    stale = stale_docs(write=not args.check)
    for path in stale:
        print(f"{'differs' if args.check else 'rewritten'}: {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
