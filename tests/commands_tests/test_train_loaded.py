"""``recurrent-sim train --loadtosim``: new heads, or the heads alone (``--heads-only``), learn on a trained
simulator whose other weights stay as they are; options that change no weight (the motion architecture's
plane_loss) apply to it, options that would change its weights are refused."""
import json

import numpy as np

from recurrent_sim.training.checkpoint import load_checkpoint
from tests.helpers import SMALL_TRAIN_FLAGS, own_lines


def parameters(path):
    return {name: param.array.copy() for name, param in load_checkpoint(path).build_simulator().namedparams()}


def train_errors(run):
    """The training errors logged by the run folder ``run`` (log.json), in update order."""
    return [row["train_error"] for row in json.loads((run / "log.json").read_text())["rows"]
            if row.get("train_error") is not None]


def collect(cli, data):
    """8 episodes of random play of BlockWorld-v1 in the folder ``data``."""
    code, _, err = cli("collect", "--env", "BlockWorld-v1", "--frame-size", 32, "--out", data, "--episodes", 8,
                       "--policy", "random", "--seed", 0)
    assert code == 0, err


def test_heads_only_changes_the_heads_and_nothing_else_and_resumes(tmp_path, cli):
    data, first, heads = tmp_path / "data", tmp_path / "first", tmp_path / "heads"
    collect(cli, data)
    code, out, err = cli("train", data, "--out", first, *SMALL_TRAIN_FLAGS, "--heads", "--updates", 2,
                         "--checkpoint-every", 2)
    assert code == 0, err
    code, out, err = cli("train", data, "--out", heads, *SMALL_TRAIN_FLAGS, "--loadtosim", first, "--heads-only",
                         "--reward-weight", 1, "--lr", 0.01, "--updates", 3, "--checkpoint-every", 3)
    assert code == 0 and "trained to update 3" in out, err
    before, after = parameters(first), parameters(heads / "checkpoints" / "checkpoint_00000003.npz")
    changed = {name for name in before if not np.array_equal(before[name], after[name])}
    assert changed and all(name.startswith("/state_heads/") for name in changed)
    assert "/state_heads/reward/W" in changed

    code, out, err = cli("train", "--out", heads, "--resume", "--updates", 5)  # the setting is kept
    assert code == 0 and "trained to update 5" in out, err
    resumed = parameters(heads / "checkpoints" / "checkpoint_00000005.npz")
    assert all(np.array_equal(before[name], resumed[name]) for name in before if not name.startswith("/state_heads/"))
    assert any(not np.array_equal(after[name], resumed[name]) for name in changed)


def test_heads_only_without_heads_is_one_clear_line(tmp_path, cli):
    data = tmp_path / "data"
    code, _, err = cli("collect", "--env", "BlockWorld-v0", "--frame-size", 32, "--out", data, "--episodes", 2,
                       "--policy", "random")
    assert code == 0, err
    code, out, err = cli("train", data, "--out", tmp_path / "run", *SMALL_TRAIN_FLAGS, "--heads-only",
                         "--updates", 1)
    assert code == 2 and "--heads-only needs a simulator with heads" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_new_frame_heads_learn_on_a_simulator_trained_without_heads(tmp_path, cli):
    data, first, heads = tmp_path / "data", tmp_path / "first", tmp_path / "heads"
    collect(cli, data)
    code, out, err = cli("train", data, "--out", first, *SMALL_TRAIN_FLAGS, "--architecture", "motion",
                         "--updates", 2, "--checkpoint-every", 2)
    assert code == 0, err
    assert not load_checkpoint(first / "simulator.npz").config.heads
    code, out, err = cli("train", data, "--out", heads, *SMALL_TRAIN_FLAGS, "--loadtosim", first, "--heads",
                         "--head-input", "frame", "--heads-only", "--reward-weight", 1, "--lr", 0.01,
                         "--updates", 3, "--checkpoint-every", 3)
    assert code == 0 and "trained to update 3" in out, err
    saved = load_checkpoint(heads / "checkpoints" / "checkpoint_00000003.npz")
    assert saved.config.heads and saved.config.head_input == "frame"
    before, after = parameters(first), parameters(heads / "checkpoints" / "checkpoint_00000003.npz")
    assert all(np.array_equal(before[name], after[name]) for name in before)  # the frame network is kept
    assert "/state_heads/frame_conv1/W" in after

    code, out, err = cli("train", "--out", heads, "--resume", "--updates", 4)
    assert code == 0 and "trained to update 4" in out, err
    code, out, err = cli("train", "--out", heads, "--resume", "--head-input", "state", "--updates", 5)
    assert code == 2 and "--head-input" in err and len(err.strip().splitlines()) == 1


def test_a_loaded_motion_simulator_goes_on_with_the_plane_loss(tmp_path, cli):
    data, first, planes = tmp_path / "data", tmp_path / "first", tmp_path / "planes"
    collect(cli, data)
    code, _, err = cli("train", data, "--out", first, *SMALL_TRAIN_FLAGS, "--architecture", "motion",
                       "--architecture-options", '{"kernels": 2}', "--updates", 2, "--checkpoint-every", 2, "--log-every", 1)
    assert code == 0, err
    code, out, err = cli("train", data, "--out", planes, *SMALL_TRAIN_FLAGS, "--loadtosim", first,
                         "--architecture-options", '{"plane_loss": 16}', "--lr", 1e-12, "--updates", 1, "--log-every", 1,
                         "--checkpoint-every", 1)
    assert code == 0 and "trained to update 1" in out, err
    saved = load_checkpoint(planes / "checkpoints" / "checkpoint_00000001.npz")
    assert saved.config.options == {"kernels": 2, "plane_loss": 16}  # merged over the loaded simulator's
    before, after = parameters(first / "simulator.npz"), parameters(saved.path)
    assert before.keys() == after.keys()
    assert all(np.allclose(before[name], after[name], atol=1e-6) for name in before)  # loaded, not new
    # the plane loss is what the run measured: its errors are those of planes (about 1 a wrong pixel), not
    # those of gray levels
    errors, plain = train_errors(planes), train_errors(first)
    assert errors and plain and errors[0] > 3 * plain[-1]

    code, _, err = cli("train", data, "--out", tmp_path / "other", *SMALL_TRAIN_FLAGS, "--loadtosim", first,
                       "--architecture-options", '{"kernels": 3}', "--updates", 1)
    lines = own_lines(err)
    assert code == 2 and len(lines) == 1 and "need other weights than the simulator of" in lines[0], err
    assert not (tmp_path / "other" / "simulator.npz").exists()
