"""The original script trains its A3C agent only inside a simulated BlockWorld-v1 and scores it on the real game."""
import os
import re

import numpy as np

from recurrent_sim.envs import make_game
from recurrent_sim.training import load_checkpoint, save_checkpoint
from tests.helpers import load_original_script, run_original_script, small_simulator

REAL_SCORE = re.compile(r"^evaluation on the real game at step (\d+): n_runs: (\d+) mean: (\S+)", re.M)


def heads_simulator(folder):
    simulator = small_simulator(hidden_size=8, encoding_size=16, heads=True)
    game = make_game("BlockWorld-v1", seed=0, frame_size=32)
    game.reset()
    simulator.set_mean_image(np.stack([game.step(t % 5)[0][-1] for t in range(20)]))
    simulator.state_heads.reward.b.array[:] = [0.0, 0.0, 50.0]  # reward +1 at every step
    simulator.state_heads.done.b.array[:] = -50.0  # the head never ends an episode: the step limit does
    save_checkpoint(folder, simulator, metadata={"env_id": "BlockWorld-v1", "frame_size": 32})
    return folder


def test_a3c_trains_inside_the_simulated_game_and_is_scored_on_the_real_game(capsys, tmp_path):
    script = load_original_script()
    sim = heads_simulator(tmp_path / "sim")
    checkpoint = load_checkpoint(os.path.join(sim, "simulator.npz"))
    status, out, err = run_original_script(
        script, capsys, "1", "--env", "BlockWorld-v1", "--agent", "a3c", "--train-in-sim", "--loadtosim", sim,
        "--steps", 60, "--eval-interval", 30, "--eval-n-runs", 2, "--sim-episode-len", 7, "--unroll_dep", 3,
        "--outdir", tmp_path / "out", "--logger-level", 30)
    assert status == 0, err
    scores = REAL_SCORE.findall(out)
    assert [(int(step), int(runs)) for step, runs, _ in scores] == [(30, 2), (60, 2)]
    assert "training in the simulated game: 60 steps (reward (class) and episode end from its heads" in out
    assert "returns inside the simulated game: n_runs: 8 mean: 7.0 " in out  # 60 steps of 7-step episodes
    run = next(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert (run / "60_finish" / "model.npz").is_file()
    assert checkpoint.config.heads


def test_train_in_sim_refuses_what_cannot_work(capsys, tmp_path):
    script = load_original_script()
    for argv, message in ((["--train-in-sim", "--agent", "a3c"], "--train-in-sim needs --loadtosim"),
                          (["--pretrained-sim", "nosuch"], "no pretrained simulator 'nosuch'")):
        status, _, err = run_original_script(script, capsys, "1", "--env", "BlockWorld-v1", *argv,
                                             "--outdir", tmp_path / "out")
        assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_new_simulator_with_heads_trains_online(capsys, tmp_path):
    script = load_original_script()
    status, out, err = run_original_script(
        script, capsys, "1", "--env", "BlockWorld-v1", "--frame-size", "32", "--num_output_channels_sim", "8",
        "--sim-heads", "--unroll_dep", "2", "--obs_dep", "2", "--pred_dep", "2", "--batch_size", "2",
        "--warm_up_steps", "30", "--training_steps", "10", "--saving_steps", "100", "--steps", "80",
        "--eval-n-runs", "0", "--logger-level", "30", "--savesim", tmp_path / "sim", "--outdir", tmp_path / "out")
    assert status == 0, err
    saved = load_checkpoint(os.path.join(tmp_path / "sim", "simulator.npz"))
    assert saved.config.heads
    assert saved.build_simulator().has_heads
