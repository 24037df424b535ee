"""The frames option: non-square and RGB frames from collection to evaluation, and the refusals."""
import json

import numpy as np

from recurrent_sim.data.episodes import load_dataset
from recurrent_sim.training.checkpoint import load_checkpoint
from tests.helpers import SMALL_TRAIN_FLAGS, own_lines


def test_rgb_non_square_frames_collect_train_evaluate(tmp_path, cli):
    data, run, out = tmp_path / "data", tmp_path / "run", tmp_path / "eval"
    code, stdout, _ = cli("collect", "--env", "BlockWorld-v0", "--frame-size", "42x32", "--color", "rgb", "--out", data,
                          "--episodes", 3, "--max-episode-steps", 30, "--policy", "random")
    assert code == 0 and "3 episodes, 90 steps" in stdout
    manifest, episodes = load_dataset(data)
    assert manifest["frame_shape"] == [3, 42, 32] and manifest["preprocessing"]["color"] == "rgb"
    frames = episodes[0].frames
    assert frames.shape == (31, 3, 42, 32) and frames.dtype == np.uint8
    assert (frames[:, 2] < frames[:, 0]).any()  # the yellow ball: blue below red, so the colours are kept

    code, _, err = cli("train", data, "--out", run, *SMALL_TRAIN_FLAGS, "--validation-fraction", "0.34",
                       "--updates", 2)
    assert code == 0, err
    config = load_checkpoint(run / "simulator.npz").config
    assert (config.channels, config.frame_shape, config.image_shape) == (3, (42, 32), (3, 42, 32))

    code, _, err = cli("evaluate", "--loadtosim", run, "--env", "BlockWorld-v0", "--warmup", 2, "--horizon", 3,
                       "--sequences", 2, "--batch-size", 2, "--out", out)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["frame_size"] == [42, 32] and summary["settings"]["color"] == "rgb"
    assert (out / "rollout_frames.png").exists()

    # A gray dataset of the same size is refused for that simulator, in one line, before anything is written.
    gray = tmp_path / "gray"
    assert cli("collect", "--env", "BlockWorld-v0", "--frame-size", "42x32", "--out", gray, "--episodes", 2,
               "--max-episode-steps", 30, "--policy", "random")[0] == 0
    code, _, err = cli("train", gray, "--out", tmp_path / "run2", *SMALL_TRAIN_FLAGS, "--loadtosim", run,
                       "--updates", 1)
    lines = own_lines(err)
    assert code != 0 and len(lines) == 1
    assert "frames 42x32 RGB" in lines[0] and "needs 42x32 frames" in lines[0]
    assert not (tmp_path / "run2" / "simulator.npz").exists()


def test_frame_size_flag(tmp_path, cli):
    code, _, err = cli("collect", "--env", "BlockWorld-v0", "--frame-size", "40x8", "--out", tmp_path / "d")
    assert code != 0 and "--frame-size 40x8 is too small" in err
    code, _, err = cli("collect", "--env", "BlockWorld-v0", "--frame-size", "40xa", "--out", tmp_path / "d")
    assert code == 2 and "HEIGHTxWIDTH" in err
    code, _, err = cli("collect", "--env", "BlockWorld-v0", "--color", "cmyk", "--out", tmp_path / "d")
    assert code == 2 and "--color" in err
    assert not (tmp_path / "d").exists()
