"""Named recipes: the settings of a job, in one file shipped with the package.

``recurrent_sim/recipes/NAME.json`` holds ``{"about": "...", "settings":
{"hidden_size": 512, ...}}``, keyed by the settings' names (those of
``config.json``). ``recurrent-sim train --recipe NAME`` takes each value
unless the same setting was given as a flag; the values then count as
given (a ``--resume`` checks them) and are written to ``config.json`` like
any flag.

The original script (``examples/mygym/train_a3c_gym.py --recipe NAME``)
reads the same files, but its own object, ``"original_script"``, keyed by
the script's dest names (``num_output_channels_sim``, ``lr_sim``, ``t_max``,
``overwrite`` ...: its flags without the dashes, ``-`` as ``_``), since some
of its flags differ from the settings (its ``--lr`` is the agent's); see
:mod:`recurrent_sim.commands.original.recipe`. A file may hold either
object or both; each command lists and reads only the recipes with its own.
"""
import argparse
import json
import os

from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import SETTINGS, Setting

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "recipes")
RECIPE = Setting("recipe", None, "a named recipe shipped with the package (recurrent_sim/recipes/NAME.json): its "
                 "settings, which flags given on the command line override", metavar="NAME", original_flag="--recipe")


SETTINGS_KEY = "settings"  # recurrent-sim train's object: {setting name: value}
ORIGINAL_KEY = "original_script"  # the original script's object: {its dest name: value}


def _read(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError:
        return None


def recipe_names(key: str = SETTINGS_KEY) -> list:
    """Names of the shipped recipes holding a ``key`` object, sorted."""
    names = sorted(name[:-len(".json")] for name in os.listdir(FOLDER) if name.endswith(".json"))
    return [name for name in names if isinstance((_read(os.path.join(FOLDER, f"{name}.json")) or {}).get(key), dict)]


def load_recipe(name: str, key: str = SETTINGS_KEY) -> dict:
    """The ``key`` object of recipe ``name``: ``{setting (or dest) name: value as JSON gives it}``.

    Raises:
        UserError: no such recipe for this command (the message lists them), or a file that is not a recipe.
    """
    path = os.path.join(FOLDER, f"{name}.json")
    if os.sep in str(name) or name in ("", ".", "..") or not os.path.isfile(path):
        raise UserError(f"--recipe: no recipe {name!r}; shipped: {_shipped(key)}")
    recipe = _read(path)
    if not isinstance(recipe, dict):
        raise UserError(f"--recipe {name}: {path} is not a JSON object")
    if not isinstance(recipe.get(key), dict):
        raise UserError(f"--recipe {name}: {path} holds no \"{key}\" object (a recipe of another command); "
                        f"shipped for this one: {_shipped(key)}")
    return recipe[key]


def _shipped(key: str) -> str:
    """The names of :func:`recipe_names` for an error message ("none" when there are none)."""
    return ", ".join(recipe_names(key)) or "none"


def parse_recipe_value(where: str, value, switch: bool, type_=None, choices=None):
    """``value`` (as read from a recipe's JSON) parsed as a flag would parse it: a true/false
    ``switch``, else text through ``type_`` (None: kept as text) and checked against ``choices``;
    UserError messages start with ``where`` (``--recipe NAME: flag``)."""
    if switch:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r}")
        return value
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    try:
        parsed = type_(text) if type_ is not None else text
    except (argparse.ArgumentTypeError, TypeError, ValueError) as e:
        raise UserError(f"{where}: {e or 'invalid value ' + repr(text)}") from None
    if choices is not None and parsed not in choices:
        raise UserError(f"{where} must be one of {', '.join(map(str, choices))}, got {parsed!r}")
    return parsed


def recipe_value(recipe: str, name: str, value):
    """``value`` of setting ``name`` read from recipe ``recipe``, parsed and checked as its flag would be."""
    setting = SETTINGS[name]
    switch = setting.type is bool
    parsed = parse_recipe_value(f"--recipe {recipe}: {name}", value, switch, setting.type, setting.choices)
    if not switch:
        setting.validate(parsed)
    return parsed


def apply_recipe(args, names) -> list:
    """Set each setting of recipe ``args.recipe`` on ``args`` that is still None (not given as a flag);
    ``names`` are the settings a recipe may hold. Returns the names it set."""
    if not getattr(args, "recipe", None):
        return []
    settings = load_recipe(args.recipe)
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise UserError(f"--recipe {args.recipe}: {', '.join(unknown)} cannot be set by a recipe of this command")
    taken = [name for name in settings if getattr(args, name) is None]
    for name in taken:
        setattr(args, name, recipe_value(args.recipe, name, settings[name]))
    return taken
