"""Settings defined once: flags built from one definition, errors that name settings."""
import argparse
import dataclasses

import pytest

from recurrent_sim.utils.settings import SETTINGS, Setting, SettingError, any_int, positive_int, setting_of


def test_a_setting_gives_a_dataclass_field_and_a_flag():
    steps = Setting("test_steps", 7, "steps of the test", positive_int, flags=("--test-steps", "--test_steps"))

    @dataclasses.dataclass
    class Options:
        test_steps: int = steps.field()
        other: int = steps.field(3)

    assert Options().test_steps == 7 and Options().other == 3 and setting_of(Options, "test_steps") is steps
    parser = argparse.ArgumentParser()
    steps.add_to(parser)
    assert parser.parse_args([]).test_steps == 7
    assert parser.parse_args(["--test_steps", "1e3"]).test_steps == 1000
    assert "steps of the test (default: 7)" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--test-steps", "0"])
    assert SETTINGS["test_steps"] is steps


def test_shared_settings_have_one_default_everywhere():
    """The LSTM size and the sequence split are defined once and every dataclass and flag reads them."""
    from recurrent_sim.cli import build_parser
    from recurrent_sim.models import SimulatorConfig
    from recurrent_sim.training import SequenceSchedule
    from recurrent_sim.training.run_settings import OfflineSettings

    assert SimulatorConfig().hidden_size == OfflineSettings().hidden_size == SETTINGS["hidden_size"].default == 1024
    assert dataclasses.astuple(SequenceSchedule()) == (15, 10, 10)
    train = build_parser().parse_args(["train", "--out", "x"])  # its own defaults: the recipe of docs/fidelity.md
    assert (train.run_defaults["hidden_size"], train.run_defaults["architecture"]) == (512, "skip")
    assert [train.run_defaults[name] for name in ("unroll_dep", "obs_dep", "pred_dep")] == [10, 10, 5]
    bench = build_parser().parse_args(["bench"])
    assert (bench.hidden_size, bench.pred_dep) == (512, 15)  # the benchmark's own defaults, no parser edits


def test_setting_errors_are_worded_for_each_command_line():
    error = SettingError("gpu", "{flag} 3 needs CuPy; use {flag} -1")
    assert str(error) == "gpu 3 needs CuPy; use gpu -1"
    assert error.message_for("--gpu") == "--gpu 3 needs CuPy; use --gpu -1"


def test_any_int_reads_the_original_scripts_counts():
    assert any_int("1e4") == 10000 and any_int("-3") == -3
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer"):
        any_int("2.5")


def test_a_library_setting_error_reaches_each_user_as_their_flag(tmp_path, cli, capsys):
    """``use_device`` names the setting; recurrent-sim and the original script name their flags."""
    import chainer

    from tests.helpers import load_original_script, run_original_script

    if chainer.backends.cuda.available:
        pytest.skip("a CUDA device is present")
    code, out, err = cli("collect", "--env", "BlockWorld-v0", "--frame-size", 32, "--episodes", 1,
                         "--out", tmp_path / "data", "--gpu", 0)
    assert code == 2
    assert err.strip() == ("recurrent-sim collect: error: --gpu 0: CUDA is not usable: CuPy is not installed; "
                           "install the GPU extra (pip install -e .[gpu]) on a machine with an NVIDIA driver, "
                           "or use --gpu -1 for the CPU")
    status, out, err = run_original_script(load_original_script(), capsys, "1", "--env", "BlockWorld-v0",
                                           "--frame-size", "32", "--gpu", "0", "--steps", "10",
                                           "--outdir", tmp_path / "out")
    assert status == 2 and err.strip().endswith("--gpu 0: CUDA is not usable: CuPy is not installed; install "
                                                "the GPU extra (pip install -e .[gpu]) on a machine with an "
                                                "NVIDIA driver, or use --gpu -1 for the CPU")
