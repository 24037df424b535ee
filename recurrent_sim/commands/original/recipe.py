"""``--recipe NAME`` of the original script: a job's flags in a shipped recipe file.

The recipe's ``"original_script"`` object (:mod:`recurrent_sim.commands.recipes`)
is keyed by the script's dest names (a flag without its dashes, ``-`` as
``_``: ``"num_output_channels_sim": 512``, ``"lr_sim": 5e-4``,
``"overwrite": true``); the positional ``processes`` cannot be set. Each
value is parsed and checked as its flag's would be, then becomes the flag's
default, and the command line is parsed again: a flag given anywhere on
the line overrides the recipe, and the values land in ``args`` (so in the
run's config.json, with ``recipe``) like any flag.
"""
import argparse

from recurrent_sim.commands.recipes import ORIGINAL_KEY, RECIPE, load_recipe, parse_recipe_value, recipe_names
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import SettingError


def add_recipe_flag(parser: argparse.ArgumentParser):
    """Add ``--recipe NAME`` to the script's ``parser``; its help lists the shipped recipes."""
    RECIPE.add_to(parser, RECIPE.original_flag, show_default=False,
                  help="a named recipe shipped with the package (recurrent_sim/recipes/NAME.json, its "
                       f"\"{ORIGINAL_KEY}\" object): the job's flags, which flags given on the command line "
                       f"override; shipped: {', '.join(recipe_names(ORIGINAL_KEY)) or 'none'}")


def recipe_flag_value(recipe: str, action: argparse.Action, value):
    """``value`` of flag ``action`` read from recipe ``recipe``, parsed and checked as the flag would be."""
    switch = action.nargs == 0  # store_true / store_false
    parsed = parse_recipe_value(f"--recipe {recipe}: {action.dest}", value, switch, action.type, action.choices)
    if switch:
        return parsed
    setting = getattr(action, "setting", None)
    if setting is not None:
        try:
            setting.validate(parsed)
        except SettingError as e:
            raise UserError(f"--recipe {recipe}: {e.message_for(action.dest)}") from None
    return parsed


def parse_with_recipe(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """Parse ``argv``; with ``--recipe NAME``, the recipe's values stand for the flags not given.

    Raises:
        UserError: no such recipe, a name that is not one of the script's flags, or a bad value.
    """
    args = parser.parse_args(argv)
    if not args.recipe:
        return args
    values = load_recipe(args.recipe, ORIGINAL_KEY)
    actions = {action.dest: action for action in parser._actions
               if action.option_strings and action.dest not in ("help", "recipe")}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        raise UserError(f"--recipe {args.recipe}: {', '.join(unknown)} cannot be set by a recipe of this script "
                        "(it names the script's flags as dest names, e.g. num_output_channels_sim)")
    parser.set_defaults(**{dest: recipe_flag_value(args.recipe, actions[dest], value)
                           for dest, value in values.items()})
    return parser.parse_args(argv)
