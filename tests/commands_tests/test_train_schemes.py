"""`recurrent-sim train` with the paper's schemes, truncated BPTT, other architectures and time budgets."""
import numpy as np
import pytest

from recurrent_sim.training.checkpoint import load_checkpoint
from recurrent_sim.training.run_state import settings_of
from tests.helpers import write_dataset

TINY = ["--hidden-size", "8", "--batch-size", "2", "--unroll-dep", "2", "--validation-fraction", "0.25",
        "--validation-sequences", "2", "--checkpoint-every", "2", "--log-every", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("schemes") / "data", [80, 80, 80, 80])


def test_a_scheme_run_stores_its_split_and_resumes_with_it(tmp_path, cli, data):
    run = tmp_path / "run"
    code, out, err = cli("train", data, "--out", run, *TINY, "--architecture", "skip", "--scheme", "0-20-33",
                         "--curriculum", "1,2", "--bptt-chunks", "2", "--updates", 2)
    assert code == 0, err
    checkpoint = load_checkpoint(run)
    settings = settings_of(load_checkpoint(str(run / "checkpoints" / "checkpoint_00000002.npz")))
    assert (settings.scheme, settings.bptt_chunks, settings.curriculum) == ("0-20-33", 2, (1, 2))
    assert settings.split.plan(0).pattern == "O" * 30
    assert settings.split.plan(5).pattern == "O" * 20 + "P" * 10
    assert checkpoint.config.architecture == "skip"
    code, out, err = cli("train", "--out", run, "--resume", "--updates", 3)
    assert code == 0 and "trained to update 3" in out, err
    code, out, err = cli("train", "--out", run, "--resume", "--updates", 4, "--scheme", "33")
    assert code == 2 and "--scheme 33 differs from this run's 0-20-33" in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--bptt-chunks", "2"], "--bptt-chunks needs a scheme"),
        (["--curriculum", "5"], "--curriculum needs a scheme"),
        (["--scheme", "33", "--curriculum", "5"], "scheme 33 needs 0 boundaries"),
        (["--scheme", "0-100", "--curriculum", "5,3"], "increasing positive update counts"),
        (["--scheme", "50"], "unknown scheme '50'"),
        (["--architecture", "skip", "--architecture-options", '{"skipz": true}'], "unknown options of the skip"),
        (["--architecture-options", "[1]"], "expected a JSON object"),
    ],
)
def test_bad_scheme_and_architecture_flags_are_one_line_errors(tmp_path, cli, data, flags, message):
    code, out, err = cli("train", data, "--out", tmp_path / "run", *TINY, "--updates", 1, *flags)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("budget", ["--max-minutes", "--max-cpu-minutes"])
def test_a_time_budget_stops_with_a_checkpoint_and_resume_goes_on(tmp_path, cli, data, budget):
    run = tmp_path / "run"
    code, out, err = cli("train", data, "--out", run, *TINY, "--updates", 50, budget, "1e-6")
    assert code == 0 and "stopped at update 1 of 50: time budget spent" in out, err
    assert load_checkpoint(str(run / "checkpoints" / "checkpoint_00000001.npz")).metadata["updates"] == 1
    code, out, err = cli("train", "--out", run, "--resume", "--updates", 2)
    assert code == 0 and "trained to update 2" in out, err


@pytest.mark.parametrize("architecture, options", [("original", None), ("skip", '{"residual": false}')])
def test_other_architectures_train_and_load(tmp_path, cli, data, architecture, options):
    run = tmp_path / "run"
    extra = ["--architecture-options", options] if options else []
    code, out, err = cli("train", data, "--out", run, *TINY, "--obs-dep", "1", "--pred-dep", "1",
                         "--updates", 2, "--architecture", architecture, *extra)
    assert code == 0, err
    config = load_checkpoint(run).config
    assert config.architecture == architecture
    if architecture == "original":
        assert config.conv_channels == (32, 32, 32, 64) and config.conv_strides == (2, 2, 1, 2)
    else:
        assert config.options == {"residual": False}
    simulator = load_checkpoint(run).build_simulator()
    load_checkpoint(run).restore_simulator(simulator)
    assert np.isfinite(simulator.mean_image).all() and simulator.has_mean_image
