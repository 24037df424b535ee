"""Settings defined once: name, default, help text and command-line spelling.

Each setting of the package is one :class:`Setting`, defined next to the
code that uses it (``HIDDEN_SIZE`` in :mod:`recurrent_sim.models.config`,
``UNROLL_DEP`` in :mod:`recurrent_sim.training.sequence_loss` ...). The
dataclasses that hold settings take their fields from it
(``hidden_size: int = HIDDEN_SIZE.field()``), and every command line builds
its flags from it (``HIDDEN_SIZE.add_to(parser)``), ``recurrent-sim`` with
its dashed spellings and the original script with the original ones.

The library reports a bad value as a :class:`SettingError` that names the
setting; a command line turns it into a message that names its own flag
(:meth:`SettingError.message_for`).
"""
import argparse
import dataclasses
import json
import math
from typing import Any, Callable, Optional, Tuple

from recurrent_sim.utils.errors import UserError

_MISSING = object()
SETTINGS = {}  # name -> Setting, every setting defined so far


def _number(text, kind, check, expected):
    """``text`` as a finite number of ``kind`` that passes ``check`` (NaN and infinities never do)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or (kind is int and value != int(value)) or not check(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return kind(value)


def _number_type(kind, check, expected, doc):
    """An argparse type: text -> ``kind`` number for which ``check`` holds, else ``expected`` is named."""

    def parse(text):
        return _number(text, kind, check, expected)

    parse.__doc__ = doc
    return parse


positive_int = _number_type(int, lambda v: v > 0, "a positive integer",
                            "argparse type: an integer > 0 (accepts '1e4').")
non_negative_int = _number_type(int, lambda v: v >= 0, "an integer >= 0",
                                "argparse type: an integer >= 0 (accepts '1e4').")
any_int = _number_type(int, lambda v: True, "an integer",
                       "argparse type: an integer, given as '3000' or '1e4' (the original script's counts).")
positive_float = _number_type(float, lambda v: v > 0, "a positive finite number",
                              "argparse type: a finite number > 0 (learning rates, scales).")
non_negative_float = _number_type(float, lambda v: v >= 0, "a finite number >= 0",
                                  "argparse type: a finite number >= 0.")
finite_float = _number_type(float, lambda v: True, "a finite number", "argparse type: any finite number.")


def game_id(text) -> str:
    """argparse type: a non-empty gym id."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected the gym id of a game (such as Breakout-v0), got ''")
    return text


def json_object(text) -> dict:
    """argparse type: a JSON object, e.g. '{"skips": false}'."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"skips\": false}}', got {text!r}")
    return value


fraction = _number_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)", "argparse type: a number in [0, 1).")


@dataclasses.dataclass(frozen=True)
class Check:
    """A range checked once the value is read (not by argparse): ``holds(value)``, else the message
    ``{flag} must be <expected>, got <value>``."""

    holds: Callable[[Any], bool]
    expected: str


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting.

    Attributes:
        name: its name in the library (dataclass fields, ``config.json``).
        default: its default value.
        help: what it is, with units; the default is appended on command lines.
        type: argparse type of its flag (None: text).
        choices: the values it may take (None: any).
        flags: its spellings on ``recurrent-sim`` (default: ``--name-with-dashes``).
        original_flag: its spelling on the original script, when it has one.
        metavar: how its value reads in help and docs (``DIR``, ``N``).
        check: a range checked after parsing, on flags and recipe values alike (:meth:`validate`);
            the others are checked by their ``type`` while parsing.
    """

    name: str
    default: Any
    help: str
    type: Optional[Callable] = None
    choices: Optional[Tuple] = None
    flags: Tuple[str, ...] = ()
    original_flag: Optional[str] = None
    metavar: Optional[str] = None
    check: Optional[Check] = None

    def __post_init__(self):
        SETTINGS[self.name] = self

    @property
    def flag(self) -> str:
        """The main ``recurrent-sim`` spelling."""
        return self.flags[0] if self.flags else "--" + self.name.replace("_", "-")

    def field(self, default=_MISSING):
        """A dataclass field with this setting's default (or ``default``) and help."""
        value = self.default if default is _MISSING else default
        return dataclasses.field(default=value, metadata={"setting": self})

    def validate(self, value):
        """Raise :class:`SettingError` when ``value`` (not None) is outside :attr:`check`."""
        if self.check is not None and value is not None and not self.check.holds(value):
            raise SettingError(self.name, f"{{flag}} must be {self.check.expected}, got {value}")

    def add_to(self, parser, *flags, default=_MISSING, help=None, default_text=None, show_default=True, **overrides):
        """Add this setting's flag to ``parser`` (dest = its name; a spelling without dashes makes it
        positional). The action it returns carries ``setting`` (this setting), ``meaning`` (its help
        without the default) and ``default_text`` (the default as the help reads it), from which the
        docs' flag tables are generated (:mod:`recurrent_sim.commands.flag_tables`).

        Args:
            flags: spellings (default: :attr:`flags`, or :attr:`flag`).
            default: the flag's default when it differs from the setting's.
            help: help text in place of the setting's.
            default_text: how the default reads in the help (default: its value).
            show_default: append ``(default: ...)`` (off for formatters that add it).
            overrides: other ``add_argument`` keywords (``type``, ``choices`` ...).
        """
        value = self.default if default is _MISSING else default
        meaning = help or self.help
        shown = value if default_text is None else default_text
        text = meaning + (f" (default: {shown})" if show_default else "")
        flags = flags or self.flags or (self.flag,)
        kwargs = dict(default=value, help=text)
        if flags[0].startswith("-"):
            kwargs["dest"] = self.name
        if self.metavar is not None:
            kwargs["metavar"] = self.metavar
        if self.type is bool:
            kwargs["action"] = "store_true"
        else:
            if self.type is not None:
                kwargs["type"] = self.type
            if self.choices is not None:
                kwargs["choices"] = list(self.choices)
        kwargs.update(overrides)
        action = parser.add_argument(*flags, **kwargs)
        action.setting, action.meaning, action.default_text = self, meaning, shown
        return action


MAX_SEED = 2**32 - 1  # the largest seed numpy's legacy generators, Chainer's and the games' take


def seed_value(text) -> int:
    """argparse type: a random seed, an integer in 0..2**32-1 (what every generator seeded by it takes)."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer in 0..{MAX_SEED}, got {text!r}")
    return value


def offset_seed(seed, offset) -> int:
    """The seed ``offset`` places after ``seed`` (another process's, the evaluation game's),
    wrapping around so that it stays in 0..2**32-1."""
    return (int(seed) + int(offset)) % (MAX_SEED + 1)


SEED = Setting("seed", 0, f"random seed, an integer in 0..{MAX_SEED}", seed_value)


def setting_of(cls, name) -> Setting:
    """The :class:`Setting` behind field ``name`` of dataclass ``cls``."""
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(cls) if "setting" in f.metadata}[name]


class SettingError(UserError):
    """A setting has a value that cannot work.

    ``template`` is the message with ``{flag}`` where the setting is named:
    ``str(error)`` names it by its library name, :meth:`message_for` by the
    flag of a command line.
    """

    def __init__(self, setting: str, template: str):
        self.setting = setting
        self.template = template
        super().__init__(template.format(flag=setting))

    def message_for(self, flag: str) -> str:
        return self.template.format(flag=flag)


def check_positive(setting, value, integer=True):
    """Raise :class:`SettingError` unless ``value`` is a positive (integer) number."""
    if not value > 0:
        kind = "a positive integer" if integer else "positive"
        raise SettingError(setting, f"{{flag}} must be {kind}, got {value}")
