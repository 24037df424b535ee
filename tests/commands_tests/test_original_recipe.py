"""``--recipe NAME`` of the original script: run_main_job.sh's flags in recurrent_sim/recipes/main-job.json,
overridden by flags wherever they stand, written to config.json; a bad name is one line, nothing written."""
import json
import os

import pytest

from recurrent_sim.commands import recipes
from recurrent_sim.commands.original.recipe import parse_with_recipe
from recurrent_sim.utils.errors import UserError
from tests.helpers import load_original_script, run_original_script

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def script():
    return load_original_script()


def _args(script, *argv):
    return {name: value for name, value in vars(parse_with_recipe(script.build_parser(), list(argv))).items()
            if name != "recipe"}


COMMON_BEFORE = ["1", "--env", "Breakout-v0", "--outdir", "out/outdir", "--t-max", "5", "--lr", "7e-4",
                 "--min_reward", "-500", "--beta", "1e-2", "--reward-scale-factor", "1.0", "--logger-level", "20",
                 "--rmsprop-epsilon", "1e-1", "--eval-interval", "10000000", "--num_output_channels_sim", "512"]
# The training commands of run_main_job.sh (its default sizes) before it used the main-job recipe, and now.
MAIN_JOB_BEFORE = [
    COMMON_BEFORE + ["--eval-n-runs", "0", "--savesim", "out/break_phase1", "--overwrite", "--sim-architecture",
                     "skip", "--scheme", "33", "--unroll_dep", "10", "--lr-sim", "5e-4", "--steps", "1800",
                     "--warm_up_steps", "1000", "--training_steps", "4", "--saving_steps", "200", "--batch_size", "16"],
    COMMON_BEFORE + ["--eval-n-runs", "0", "--loadtosim", "out/break_phase1", "--savesim", "out/break", "--overwrite",
                     "--scheme", "67", "--bptt-chunks", "4", "--unroll_dep", "10", "--lr-sim", "2.5e-4", "--steps",
                     "2772", "--warm_up_steps", "2500", "--training_steps", "4", "--saving_steps", "200",
                     "--batch_size", "32", "--seed", "1"],
]
MAIN_JOB_NOW = [
    ["1", "--recipe", "main-job", "--outdir", "out/outdir", "--savesim", "out/break_phase1", "--steps", "1800",
     "--warm_up_steps", "1000", "--training_steps", "4", "--saving_steps", "200"],
    ["1", "--recipe", "main-job", "--outdir", "out/outdir", "--loadtosim", "out/break_phase1", "--savesim",
     "out/break", "--scheme", "67", "--bptt-chunks", "4", "--lr-sim", "2.5e-4", "--steps", "2772",
     "--warm_up_steps", "2500", "--training_steps", "4", "--saving_steps", "200", "--batch_size", "32", "--seed",
     "1"],
]


@pytest.mark.parametrize("phase", [0, 1])
def test_the_main_job_recipe_gives_the_settings_of_its_former_flags(script, phase):
    before, now = _args(script, *MAIN_JOB_BEFORE[phase]), _args(script, *MAIN_JOB_NOW[phase])
    if phase == 1:  # --sim-architecture only shapes a new simulator; with --loadtosim the loaded one's holds
        assert before.pop("sim_architecture") == "paper" and now.pop("sim_architecture") == "skip"
    assert now == before
    job = open(os.path.join(REPOSITORY, "run_main_job.sh")).read()
    assert job.count("--recipe main-job") == 2 and "--scheme 33" not in job


def test_flags_override_the_recipe_wherever_they_stand(script):
    assert _args(script, "1", "--lr-sim", "1e-3", "--recipe", "main-job")["lr_sim"] == 1e-3
    assert _args(script, "1", "--recipe", "main-job", "--lr-sim", "1e-3")["lr_sim"] == 1e-3
    assert _args(script, "1", "--recipe", "main-job")["lr_sim"] == 5e-4
    assert _args(script, "1", "--recipe", "main-job")["lr"] == 7e-4  # the agent's --lr, not the simulator's
    assert _args(script, "1")["lr_sim"] == 1e-4 and _args(script, "1")["scheme"] == ""  # the defaults


def test_the_help_lists_the_shipped_recipes_of_the_script(script):
    assert recipes.recipe_names(recipes.ORIGINAL_KEY) == ["blockworld-a3c", "main-job"]
    assert "long-job" in recipes.recipe_names() and "main-job" not in recipes.recipe_names()
    assert "shipped: blockworld-a3c, main-job" in " ".join(script.build_parser().format_help().split())


def test_a_bad_recipe_name_is_one_line_and_writes_nothing(script, capsys, tmp_path):
    outdir = tmp_path / "runs"
    code, out, err = run_original_script(script, capsys, "1", "--recipe", "nothing", "--outdir", outdir)
    assert code == 2 and out == ""
    assert err.split(": ", 1)[1] == ("error: --recipe: no recipe 'nothing'; shipped: "
                                         "blockworld-a3c, main-job\n")
    code, _, err = run_original_script(script, capsys, "1", "--recipe", "long-job", "--outdir", outdir)
    assert code == 2 and err.count("\n") == 1 and "holds no \"original_script\" object" in err
    assert not outdir.exists()


def test_a_bad_recipe_value_or_name_is_refused(script, tmp_path, monkeypatch):
    monkeypatch.setattr(recipes, "FOLDER", str(tmp_path))
    for name, flags, message in [
        ("size", {"batch_size": 0}, "--recipe size: batch_size: expected a positive integer, got '0'"),
        ("flag", {"overwrite": "yes"}, "--recipe flag: overwrite must be true or false, got 'yes'"),
        ("stray", {"processes": 2, "nothing": 1}, "--recipe stray: nothing, processes cannot be set"),
        ("arch", {"sim_architecture": "nope"}, "--recipe arch: sim_architecture must be one of"),
    ]:
        (tmp_path / f"{name}.json").write_text(json.dumps({"original_script": flags}))
        with pytest.raises(UserError, match=message):
            _args(script, "1", "--recipe", name)


def test_the_recipe_and_its_values_are_written_to_config_json(script, capsys, tmp_path):
    outdir = tmp_path / "runs"
    code, out, err = run_original_script(script, capsys, "1", "--recipe", "main-job", "--outdir", outdir, "--demo",
                                         "--eval-n-runs", "1", "--pretrained-sim", "blockworld", "--env",
                                         "BlockWorld-v1", "--max-episode-len", "3", "--saliency-interval", "0",
                                         "--num_output_channels_sim", "128")
    assert code == 0, err
    (run,) = outdir.iterdir()
    config = json.loads((run / "config.json").read_text())
    flags = config["settings"]
    assert flags["recipe"] == "main-job" and flags["lr_sim"] == 5e-4 and flags["scheme"] == "33"
    assert flags["env"] == "BlockWorld-v1" and flags["num_output_channels_sim"] == 128 and flags["min_reward"] == -500
