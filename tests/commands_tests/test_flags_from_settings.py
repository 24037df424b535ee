"""Every flag of ``recurrent-sim`` and of the original script is built from one Setting; the docs' flag tables
are the generated ones; a recipe gives a job's settings, which flags override."""
import argparse
import json
import os

import pytest

from recurrent_sim.cli import build_parser
from recurrent_sim.commands import train
from recurrent_sim.commands.flag_tables import flag_table, generated, stale_docs
from recurrent_sim.commands.flags import flag_actions, flags_not_from_settings, sub_parsers
from recurrent_sim.commands.recipes import apply_recipe, recipe_names
from recurrent_sim.utils.errors import UserError
from recurrent_sim.utils.settings import SETTINGS, Setting
from tests.helpers import load_original_script

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_flag_of_every_command_is_built_from_a_registered_setting():
    parser = build_parser()
    assert set(sub_parsers(parser)) >= {"train", "evaluate", "collect", "play", "bench"}
    assert flags_not_from_settings(parser) == []
    for command, sub in sub_parsers(parser).items():
        for action in sub._actions:
            setting = getattr(action, "setting", None)
            if setting is not None:
                assert SETTINGS[setting.name] is setting, (command, action.option_strings)


def test_an_ad_hoc_flag_is_found():
    parser = build_parser()
    sub_parsers(parser)["evaluate"].add_argument("--stray", type=int, default=3, help="not from a setting")
    assert flags_not_from_settings(parser) == ["evaluate --stray"]


def test_every_flag_of_the_original_script_is_built_from_a_registered_setting():
    parser = load_original_script().build_parser()
    assert sub_parsers(parser) == {} and flags_not_from_settings(parser) == []
    for action in flag_actions(parser):
        assert SETTINGS[action.setting.name] is action.setting, action.option_strings


def test_an_ad_hoc_flag_of_the_original_script_is_found():
    parser = load_original_script().build_parser()
    parser.add_argument("--stray", type=int, default=3, help="not from a setting")
    parser.add_argument("stray_position", nargs="?")
    assert flags_not_from_settings(parser) == ["--stray", "stray_position"]


# The original script's flags that were ad hoc before their settings: spelling -> (dest, default); a command
# line or a recipe (keyed by dest) written for the script keeps its meaning.
ORIGINAL_FLAGS = {
    "--arch": ("arch", "FFSoftmax"), "--agent": ("agent", "acting"), "--outdir": ("outdir", "results"),
    "--t-max": ("t_max", 5), "--beta": ("beta", 1e-2), "--profile": ("profile", False),
    "--steps": ("steps", 8 * 10 ** 7), "--eval-interval": ("eval_interval", 10 ** 5),
    "--eval-n-runs": ("eval_n_runs", 10), "--reward-scale-factor": ("reward_scale_factor", 1e-2),
    "--rmsprop-epsilon": ("rmsprop_epsilon", 1e-1), "--render": ("render", False), "--lr": ("lr", 7e-4),
    "--weight-decay": ("weight_decay", 0.0), "--demo": ("demo", False), "--train-in-sim": ("train_in_sim", False),
    "--sim-warmup-data": ("sim_warmup_data", None), "--sim-episode-len": ("sim_episode_len", 50),
    "--sim-reward": ("sim_reward", "class"), "--load": ("load", ""), "--logger-level": ("logger_level", 20),
    "--monitor": ("monitor", False), "--max-episode-len": ("max_episode_len", None),
    "--render-b2w": ("render_b2w", False), "--saliency-interval": ("saliency_interval", 10),
    "--gif-frames": ("gif_frames", 300), "--min_reward": ("min_reward", None), "--loadtosim": ("loadtosim", None),
    "--pretrained-sim": ("pretrained_sim", None), "--savesim": ("savesim", None),
    "--sim-warmup-steps": ("sim_warmup_steps", None), "--chain_period": ("chain_period", 20),
    "--overwrite": ("overwrite", False), "--recipe": ("recipe", None),
}


def test_the_original_script_keeps_its_flags_dest_names_and_defaults():
    parser = load_original_script().build_parser()
    by_flag = {action.option_strings[0]: action for action in flag_actions(parser) if action.option_strings}
    assert {flag: (by_flag[flag].dest, by_flag[flag].default) for flag in ORIGINAL_FLAGS} == ORIGINAL_FLAGS
    assert [a.dest for a in flag_actions(parser) if not a.option_strings] == ["processes"]
    args = parser.parse_args(["2", "--lr", "1e-3", "--sim-reward", "expected", "--render", "--load", "a"])
    assert (args.processes, args.lr, args.sim_reward, args.render, args.load) == (2, 1e-3, "expected", True, "a")


def test_the_docs_flag_tables_are_the_generated_ones():
    stale = stale_docs(os.path.join(REPOSITORY, "docs"))
    assert stale == [], (f"{', '.join(stale)}: flag tables differ from the settings; regenerate them with "
                         "`python -m recurrent_sim.commands.flag_tables`")


def test_a_table_that_differs_is_rewritten(tmp_path):
    commands = sub_parsers(build_parser())
    text = "# x\n<!-- flags: play --port --fps -->\n| flag | old |\n<!-- end flags -->\nafter\n"
    new = generated(text, commands)
    assert new != text and new.endswith("<!-- end flags -->\nafter\n")
    assert "| `--port` | 8765 | port to listen on; 0 picks a free one |" in new
    assert "| `--fps F` | 15.0 | steps a second while playing |" in new
    assert generated(new, commands) == new
    (tmp_path / "a.md").write_text(text)
    assert stale_docs(tmp_path, write=True) == [str(tmp_path / "a.md")]
    assert (tmp_path / "a.md").read_text() == new and stale_docs(tmp_path) == []


def test_a_table_names_its_flags_help_and_default():
    parser = argparse.ArgumentParser()
    Setting("table_steps", 7, "steps of the table test", int, metavar="N").add_to(parser, default_text="seven")
    assert flag_table(parser) == ("| flag | default | meaning |\n|---|---|---|\n"
                                  "| `--table-steps N` | seven | steps of the table test |\n")
    with pytest.raises(ValueError, match="no flag --nothing"):
        flag_table(parser, ["--nothing"])


def test_ranges_left_to_the_settings_are_checked_after_parsing(cli, tmp_path):
    code, _, err = cli("play", "--loadtosim", tmp_path, "--scale", "65")
    assert code == 2 and err.strip() == "recurrent-sim play: error: --scale must be in 1..64, got 65"


def _train_args(*argv):
    args = build_parser().parse_args(["train", *argv])
    apply_recipe(args, train.RUN_SETTINGS + train.RUN_OPTIONS)
    return {name: value for name, value in vars(args).items() if name not in ("func", "recipe")}


# The training commands of run_long_job.sh before it used the long-job recipe.
LONG_JOB_BEFORE = [
    ["data", "--out", "train", "--architecture", "skip", "--scheme", "33", "--lr", "5e-4", "--hidden-size", "512",
     "--unroll-dep", "10", "--batch-size", "16", "--updates", "1000000", "--checkpoint-every", "100",
     "--validate-every", "100", "--validation-fraction", "0.05", "--max-minutes", "45"],
    ["data", "--out", "train2", "--loadtosim", "train", "--scheme", "67", "--bptt-chunks", "4", "--lr", "2.5e-4",
     "--hidden-size", "512", "--unroll-dep", "10", "--batch-size", "16", "--updates", "1000000",
     "--checkpoint-every", "100", "--validate-every", "100", "--validation-fraction", "0.05", "--max-minutes", "70"],
]
LONG_JOB_NOW = [
    ["data", "--out", "train", "--recipe", "long-job", "--max-minutes", "45"],
    ["data", "--out", "train2", "--loadtosim", "train", "--recipe", "long-job", "--scheme", "67", "--bptt-chunks",
     "4", "--lr", "2.5e-4", "--max-minutes", "70"],
]


@pytest.mark.parametrize("phase", [0, 1])
def test_the_long_job_recipe_gives_the_settings_of_its_former_flags(phase):
    before, now = _train_args(*LONG_JOB_BEFORE[phase]), _train_args(*LONG_JOB_NOW[phase])
    if phase == 1:  # the architecture was the default before, the recipe's now: the same skip simulator
        assert before.pop("architecture") is None and now.pop("architecture") == "skip"
    assert now == before
    script = open(os.path.join(REPOSITORY, "run_long_job.sh")).read()
    assert script.count("--recipe long-job") == 2 and "--hidden-size" not in script


def test_flags_override_a_recipe_wherever_they_stand():
    assert _train_args("d", "--out", "o", "--lr", "1e-3", "--recipe", "long-job")["lr"] == 1e-3
    assert _train_args("d", "--out", "o", "--recipe", "long-job", "--lr", "1e-3")["lr"] == 1e-3
    assert _train_args("d", "--out", "o", "--recipe", "long-job")["lr"] == 5e-4
    assert _train_args("d", "--out", "o")["lr"] is None  # not given: the command's default, 5e-4 too


def test_a_bad_recipe_is_one_clear_error(tmp_path, monkeypatch, cli):
    from recurrent_sim.commands import recipes

    assert "long-job" in recipe_names()
    code, _, err = cli("train", tmp_path, "--out", tmp_path / "run", "--recipe", "nothing")
    assert code == 2 and err.strip() == ("recurrent-sim train: error: --recipe: no recipe 'nothing'; shipped: "
                                         f"{', '.join(recipe_names())}")
    assert not (tmp_path / "run").exists()
    monkeypatch.setattr(recipes, "FOLDER", str(tmp_path))
    (tmp_path / "bad.json").write_text(json.dumps({"settings": {"batch_size": 0}}))
    with pytest.raises(UserError, match="--recipe bad: batch_size: expected a positive integer, got '0'"):
        _train_args("d", "--out", "o", "--recipe", "bad")
    (tmp_path / "gpu.json").write_text(json.dumps({"settings": {"gpu": 0}}))
    with pytest.raises(UserError, match="--recipe gpu: gpu cannot be set by a recipe"):
        _train_args("d", "--out", "o", "--recipe", "gpu")
