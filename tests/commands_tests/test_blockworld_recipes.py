"""The BlockWorld recipes: ``blockworld`` (the shipped simulator's phases, recurrent-sim train) and
``blockworld-a3c`` (the original script's A3C on the real game) give the settings of the flags the
documented commands used before them, and the documents run them by name."""
import os

import pytest

from recurrent_sim.cli import build_parser
from recurrent_sim.commands import train
from recurrent_sim.commands.original.recipe import parse_with_recipe
from recurrent_sim.commands.recipes import ORIGINAL_KEY, apply_recipe, recipe_names
from tests.helpers import load_original_script

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAINED_WITH = os.path.join(REPOSITORY, "recurrent_sim", "pretrained", "blockworld", "TRAINED_WITH.md")


def _train_args(*argv):
    args = build_parser().parse_args(["train", *argv])
    apply_recipe(args, train.RUN_SETTINGS + train.RUN_OPTIONS)
    return {name: value for name, value in vars(args).items() if name not in ("func", "recipe")}


COMMON = ["--hidden-size", "128", "--batch-size", "16", "--unroll-dep", "4", "--updates", "100000"]
NO_HEADS = ["--reward-weight", "0", "--done-weight", "0", "--error-weight", "0"]
HEADS = ["--heads-only", "--reward-weight", "1", "--done-weight", "1", "--done-positive-weight", "10",
         "--error-weight", "0.1"]
# Phases 1, 3 and 4 of TRAINED_WITH.md before the recipe, and now.
PHASES_BEFORE = [
    ["data/bw1", "--out", "runs/phase1", "--architecture", "motion", "--heads", *NO_HEADS, *COMMON, "--obs-dep", "4",
     "--pred-dep", "0", "--checkpoint-every", "250", "--validate-every", "250", "--max-cpu-minutes", "10", "--seed",
     "0"],
    ["data/bw1", "--out", "runs/phase3", "--loadtosim", "runs/phase2", *NO_HEADS, *COMMON, "--obs-dep", "4",
     "--pred-dep", "16", "--lr", "1e-3", "--checkpoint-every", "100", "--validate-every", "100", "--max-cpu-minutes",
     "25", "--seed", "4"],
    ["data/bw1", "--out", "runs/heads1", "--loadtosim", "runs/phase3", "--head-input", "frame", *HEADS, "--lr",
     "3e-3", *COMMON, "--obs-dep", "4", "--pred-dep", "16", "--checkpoint-every", "100", "--validate-every", "100",
     "--max-cpu-minutes", "12", "--seed", "5"],
]
PHASES_NOW = [
    ["data/bw1", "--out", "runs/phase1", "--recipe", "blockworld", "--max-cpu-minutes", "10", "--seed", "0"],
    ["data/bw1", "--out", "runs/phase3", "--loadtosim", "runs/phase2", "--recipe", "blockworld", "--pred-dep", "16",
     "--lr", "1e-3", "--checkpoint-every", "100", "--validate-every", "100", "--max-cpu-minutes", "25", "--seed",
     "4"],
    ["data/bw1", "--out", "runs/heads1", "--loadtosim", "runs/phase3", "--recipe", "blockworld", "--head-input",
     "frame", *HEADS, "--lr", "3e-3", "--pred-dep", "16", "--checkpoint-every", "100", "--validate-every", "100",
     "--max-cpu-minutes", "12", "--seed", "5"],
]


@pytest.mark.parametrize("phase", [0, 1, 2])
def test_the_blockworld_recipe_gives_the_settings_of_the_shipped_simulators_former_flags(phase):
    before, now = _train_args(*PHASES_BEFORE[phase]), _train_args(*PHASES_NOW[phase])
    if phase:  # with --loadtosim the loaded simulator's architecture and heads hold; the recipe names the same
        assert (before.pop("architecture"), now.pop("architecture")) == (None, "motion")
        assert (before.pop("heads"), now.pop("heads")) == (None, True)
    if phase == 2:  # the heads' weights given on the line override the recipe's zeros
        assert now["reward_weight"] == 1.0 and now["error_weight"] == 0.1
    assert now == before


def test_the_shipped_simulators_commands_name_the_recipe():
    text = open(TRAINED_WITH, encoding="utf-8").read()
    assert "blockworld" in recipe_names()
    commands = [part.split("\n\n")[0] for part in text.split("recurrent-sim train data/bw1")[1:]]
    assert len(commands) == 5 and all("--recipe blockworld" in command for command in commands)
    assert "--hidden-size" not in text


A3C_BEFORE = ["1", "--env", "BlockWorld-v1", "--agent", "a3c", "--warm_up_steps", "100000000", "--logger-level", "30",
              "--outdir", "runs/a3c", "--reward-scale-factor", "1", "--rmsprop-epsilon", "1e-5", "--t-max", "20",
              "--frame-size", "42", "--steps", "600000", "--eval-interval", "50000", "--eval-n-runs", "20", "--seed",
              "1"]


def test_the_a3c_recipe_gives_the_settings_of_the_documented_flags():
    script = load_original_script()
    before = vars(script.build_parser().parse_args(A3C_BEFORE))
    now = vars(parse_with_recipe(script.build_parser(), ["1", "--recipe", "blockworld-a3c", "--outdir", "runs/a3c",
                                                          "--seed", "1"]))
    assert (before.pop("recipe"), now.pop("recipe")) == (None, "blockworld-a3c")
    assert now == before
    assert "blockworld-a3c" in recipe_names(ORIGINAL_KEY) and "blockworld-a3c" not in recipe_names()
    longer = parse_with_recipe(script.build_parser(), ["1", "--recipe", "blockworld-a3c", "--steps", "1000"])
    assert longer.steps == 1000 and longer.t_max == 20
