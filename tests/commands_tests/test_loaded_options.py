"""``recurrent-sim train --loadtosim ... --architecture-options``: options that change no weight (the motion
architecture's plane_loss) apply to the loaded simulator; options that would change its weights are refused."""
import json

import numpy as np

from recurrent_sim.training.checkpoint import load_checkpoint
from tests.helpers import SMALL_TRAIN_FLAGS, own_lines


def parameters(path):
    return {name: param.array.copy() for name, param in load_checkpoint(path).build_simulator().namedparams()}


def test_a_loaded_motion_simulator_goes_on_with_the_plane_loss(tmp_path, cli):
    data, first, planes = tmp_path / "data", tmp_path / "first", tmp_path / "planes"
    code, _, err = cli("collect", "--env", "BlockWorld-v1", "--frame-size", 32, "--out", data, "--episodes", 8,
                       "--policy", "random", "--seed", 0)
    assert code == 0, err
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
    errors = [row["train_error"] for row in json.loads((planes / "log.json").read_text())["rows"]
              if row.get("train_error") is not None]
    plain = [row["train_error"] for row in json.loads((first / "log.json").read_text())["rows"]
             if row.get("train_error") is not None]
    assert errors and plain and errors[0] > 3 * plain[-1]

    code, _, err = cli("train", data, "--out", tmp_path / "other", *SMALL_TRAIN_FLAGS, "--loadtosim", first,
                       "--architecture-options", '{"kernels": 3}', "--updates", 1)
    lines = own_lines(err)
    assert code == 2 and len(lines) == 1 and "need other weights than the simulator of" in lines[0], err
    assert not (tmp_path / "other" / "simulator.npz").exists()
