"""The simulator shipped with the package loads by name and plays without an emulator."""
import json
import os

import numpy as np

from recurrent_sim.envs import SimulatedGame, make_game
from recurrent_sim.pretrained import pretrained_names, pretrained_path
from recurrent_sim.training import load_checkpoint


def test_the_blockworld_simulator_ships_with_its_evaluation_and_commands():
    assert "blockworld" in pretrained_names()
    path = pretrained_path("blockworld")
    folder = os.path.dirname(path)
    assert os.path.getsize(path) < 6 * 2**20  # a few MB
    checkpoint = load_checkpoint(path)
    assert checkpoint.config.heads and checkpoint.metadata["env_id"] == "BlockWorld-v1"
    assert not checkpoint.has_optimizer
    evaluation = json.load(open(os.path.join(folder, "evaluation.json")))
    assert evaluation["command"].startswith("recurrent-sim evaluate --pretrained blockworld")
    assert evaluation["heads"]["overall"]["drift_spearman"] > 0
    assert "recurrent-sim train" in open(os.path.join(folder, "TRAINED_WITH.md")).read()


def test_the_shipped_simulator_plays_blockworld_from_a_live_warm_up():
    simulator = load_checkpoint(pretrained_path("blockworld")).build_simulator()
    game = make_game("BlockWorld-v1", seed=3, frame_size=32)
    frames, actions = [game.reset()[-1]], []
    for t in range(4):
        actions.append(t % 5)
        frames.append(game.step(actions[-1])[0][-1])
    simulated = SimulatedGame(simulator)
    simulated.warm_up(np.stack(frames), np.array(actions))
    _, _, _, info = simulated.step(4)
    real = game.step(4)[0][-1]
    error = float(np.mean((info["frame"].astype(np.float32) - real) ** 2)) / 255**2
    assert error < 0.03  # close to the real frame (the mean frame's error is about 0.026)
    assert info["drift"] > 0 and abs(float(info["reward_probabilities"].sum()) - 1.0) < 1e-5


def test_evaluate_takes_the_shipped_simulator_by_name(run_cli, tmp_path):
    out = tmp_path / "out"
    code, _, err = run_cli("evaluate", "--pretrained", "blockworld", "--out", out, "--warmup", 4, "--horizon", 3,
                           "--sequences", 4, "--seed", 0)
    assert code == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["settings"]["env"] == "BlockWorld-v1" and "heads" in summary
