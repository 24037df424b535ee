"""The original script's flags, checks, locks and saves: nothing non-finite saved, a better
simulator never silently replaced, every refusal one line with nothing left on disk."""
import os
import re

import numpy as np
import pytest

from recurrent_sim.training import load_checkpoint
from recurrent_sim.training.trainer import SimulatorTrainer
from recurrent_sim.utils.locks import FolderLock
from tests.examples_tests.test_train_a3c_gym import BLOCKWORLD_TRAIN, script  # NOQA: F401,F811 (a fixture)


def run(script, capsys, tmp_path, *argv):
    status = script.main([*argv, "--outdir", str(tmp_path / "out")])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def error_line(err):
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("argv, message", [
    (["--lr-sim", "nan"], "argument --lr-sim: expected a positive finite number, got 'nan'"),
    (["--lr-sim", "-1"], "argument --lr-sim: expected a positive finite number, got '-1'"),
    (["--lr", "nan", "--agent", "a3c"], "argument --lr: expected a positive finite number, got 'nan'"),
    (["--lr", "inf"], "argument --lr: expected a positive finite number"),
    (["--rmsprop-epsilon", "0"], "argument --rmsprop-epsilon"),
    (["--beta", "nan"], "argument --beta: expected a finite number >= 0"),
    (["--weight-decay", "-1"], "argument --weight-decay"),
    (["--reward-scale-factor", "inf"], "argument --reward-scale-factor"),
    (["--batch_size", "0"], "argument --batch_size: expected a positive integer"),
    (["--buffer_size_sim", "1e400"], "argument --buffer_size_sim: expected a positive integer"),
    (["--num_output_channels_sim", "-5"], "argument --num_output_channels_sim"),
    (["--frame-size", "inf"], "argument --frame-size"),
    (["--frame-size", "16"], "--frame-size 16 is too small for the agent, which needs frames of 20 pixels or more"),
    (["--env", ""], "argument --env: expected the gym id of a game"),
    (["--env", "CartPole-v0"], "CartPole-v0 has no image frames (a classic control game: its observations are "
                               "numbers); the simulator needs image frames"),
    (["--frame-size", "100000"], "the agent (--frame-size 100000, --frame-buffer-length 4) needs about"),
    (["--num_output_channels_sim", "10000000"], "the simulator (32x32 frames, 10000000 LSTM units, batch 2 x 7 "
                                               "steps) needs about"),
    (["--buffer_size_sim", "1e12"], "its sample buffer of 1000000000000 32x32 frames needs about"),
])
def test_refused_in_one_line_before_any_folder_is_made(script, capsys, tmp_path, argv, message):
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(tmp_path / "sim"), *argv)
    assert status == 2 and message in error_line(err)
    assert os.listdir(tmp_path) == []  # no run folder, no --savesim folder


def test_hidden_size_15000_is_refused_or_announced_before_allocating(script, capsys, tmp_path, monkeypatch):
    from recurrent_sim.utils import memory

    monkeypatch.setattr(memory, "available_memory", lambda: 16 * 2**30)
    status, out, err = run(script, capsys, tmp_path, "1", "--env", "BlockWorld-v0", "--num_output_channels_sim",
                           "15000")
    assert status == 2
    assert re.search(r"the simulator \(84x84 frames, 15000 LSTM units, batch 16 x 35 steps\) needs about 3\d\.\d GiB "
                     r"of memory, but 16.0 GiB is available; lower --num_output_channels_sim", error_line(err))
    assert os.listdir(tmp_path) == []


def test_a_better_simulator_of_another_run_is_never_silently_replaced(script, capsys, tmp_path):
    sim = tmp_path / "sim"
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 0, err
    first = load_checkpoint(sim)
    # the same run again cannot beat its own best error: the file stays, and the output says why
    before = open(sim / "simulator.npz", "rb").read()
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 0, err
    assert f"holds a simulator of another run with error {first.metadata['error']:.6g} on the same measure" in out
    assert "simulator not saved: its error" in out and "--overwrite" in out
    assert open(sim / "simulator.npz", "rb").read() == before
    # another architecture is refused, unless --overwrite
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim),
                           "--num_output_channels_sim", "16")
    assert status == 2 and "already holds a simulator of another run with frames 32x32" in error_line(err)
    assert open(sim / "simulator.npz", "rb").read() == before
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim),
                           "--num_output_channels_sim", "16", "--overwrite")
    assert status == 0 and "--overwrite:" in out and "it replaced the file that was there" in out
    assert load_checkpoint(sim).config.hidden_size == 16


def test_diverging_simulator_stops_the_run_and_keeps_the_saved_one(script, capsys, tmp_path):
    sim = tmp_path / "sim"
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    before = open(sim / "simulator.npz", "rb").read()
    argv = [a if a != "10" else "2" for a in BLOCKWORLD_TRAIN]  # --training_steps 2: many updates
    status, out, err = run(script, capsys, tmp_path, *argv, "--loadtosim", str(sim), "--savesim", str(sim),
                           "--lr-sim", "1e6")
    assert status == 1
    assert re.search(r"error: (simulator update \d+ made its weights NaN or infinite|\d+ simulator batches in a row "
                     r"had a non-finite loss or gradient).*the learning rate is likely too high", error_line(err))
    assert open(sim / "simulator.npz", "rb").read() == before


def test_diverging_agent_is_not_saved(script, capsys, tmp_path):
    argv = ["1", "--env", "BlockWorld-v0", "--frame-size", "32", "--num_output_channels_sim", "8", "--steps", "60",
            "--warm_up_steps", "1000", "--eval-n-runs", "0", "--logger-level", "40", "--agent", "a3c", "--lr", "1e9"]
    with np.errstate(all="ignore"):
        status, out, err = run(script, capsys, tmp_path, *argv)
    assert status == 1
    assert re.search(r"error: agent .*60_finish not saved: .* hold NaN or infinite values; its training diverged: "
                     r"try a lower --lr", error_line(err))
    run_dir = re.search(r"outputs in (\S+)", out).group(1)
    assert not any(name.startswith("60_") for name in os.listdir(run_dir))  # no agent folder at all


def test_nan_gradient_is_skipped_and_counted(tiny_simulator, blockworld_buffer, monkeypatch):
    from recurrent_sim.training import SequenceSchedule, TrainingSchedule, make_optimizer

    optimizer = make_optimizer(tiny_simulator, "adam", 1e-3)
    trainer = SimulatorTrainer(tiny_simulator, optimizer, blockworld_buffer, SequenceSchedule(2, 1, 1),
                               TrainingSchedule(2, 0, 1, 100))
    weights = [p.array.copy() for p in tiny_simulator.params()]
    original = tiny_simulator.cleargrads

    def cleargrads_then_poison():
        original()
        tiny_simulator.decoder.fc.W.grad = np.full_like(tiny_simulator.decoder.fc.W.array, np.nan)

    monkeypatch.setattr(tiny_simulator, "cleargrads", cleargrads_then_poison)
    # backward accumulates into the NaN gradient: the update must be skipped
    assert trainer.update() is None and trainer.skipped_updates == 1 and trainer.updates == 0
    assert all(np.array_equal(w, p.array) for w, p in zip(weights, tiny_simulator.params()))


def test_savesim_held_by_another_writer_is_refused(script, capsys, tmp_path):
    import subprocess
    import sys

    from tests.helpers import REPO

    code = ("import sys,time; from recurrent_sim.utils.locks import FolderLock; FolderLock(sys.argv[1]).acquire(); "
            "print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "sim")], cwd=REPO, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=REPO))
    try:
        assert holder.stdout.readline().strip() == "held"
        status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(tmp_path / "sim"))
        assert status == 2
        assert f"--savesim {tmp_path / 'sim'} is being written by process {holder.pid}" in error_line(err)
        assert not (tmp_path / "out").exists()
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(tmp_path / "sim"):
        pass


def test_demo_refuses_a_simulator_with_nan_weights_before_making_a_run_folder(script, capsys, tmp_path):
    from tests.commands_tests.test_trust import poison

    sim = tmp_path / "sim"
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 0, err
    name = poison(sim / "simulator.npz")
    for extra in (["--demo"], ["--savesim", str(tmp_path / "other")]):
        status = script.main(["1", "--env", "BlockWorld-v0", "--loadtosim", str(sim), *extra,
                              "--outdir", str(tmp_path / "demo")])
        err = capsys.readouterr().err
        assert status == 2
        assert f"holds NaN or infinite values ({name}); it is damaged and was not loaded" in error_line(err)
        assert not (tmp_path / "demo").exists() and not (tmp_path / "other").exists()


def test_outdir_on_a_read_only_file_system_is_one_line(script, capsys, tmp_path, monkeypatch):
    import errno

    from chainerrl import experiments

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "ro" / "20260101T000000.0"))

    monkeypatch.setattr(experiments, "prepare_output_dir", read_only)
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(tmp_path / "sim"))
    assert status == 1
    assert error_line(err).endswith(f"cannot write {tmp_path / 'ro' / '20260101T000000.0'}: Read-only file system")
    assert os.listdir(tmp_path) == []  # the --savesim folder the lock made is gone again


def test_outdir_on_a_real_read_only_mount(script, capsys, tmp_path):
    import subprocess

    folder = tmp_path / "ro"
    folder.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        status = script.main([*BLOCKWORLD_TRAIN, "--outdir", str(folder / "out")])
        err = capsys.readouterr().err
        assert status == 1 and "Read-only file system" in error_line(err)
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.parametrize("change, message", [
    ({"model__transition_lstm__factor_to_gates__W": "cut"},
     "array model/transition_lstm/factor_to_gates/W is (32, 1) float32, but the model needs (32, 16) float32"),
    ({"metadata": "null"}, "its metadata is null, not a JSON object"),
    ({"metadata": '{"env_id": 7}'}, "metadata field 'env_id' is 7, not a string or null"),
    ({"format_version": 3}, "was written by a newer recurrent_sim (checkpoint format 3; this one reads formats 1 "
                            "to 2)"),
])
def test_loadtosim_refuses_a_damaged_or_newer_simulator_before_making_a_run_folder(script, capsys, tmp_path, change,
                                                                                   message):
    from tests.commands_tests.test_trust import snapshot
    from tests.commands_tests.test_trust_files import rewrite

    sim = tmp_path / "sim"
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 0, err
    weight = "model/transition_lstm/factor_to_gates/W"
    if weight.replace("/", "__") in change:
        with np.load(sim / "simulator.npz") as npz:
            change = {weight.replace("/", "__"): npz[weight][:, :1]}
    rewrite(sim / "simulator.npz", **change)
    before = snapshot(sim)
    for extra in (["--demo"], ["--savesim", str(tmp_path / "other")]):
        status = script.main(["1", "--env", "BlockWorld-v0", "--loadtosim", str(sim), *extra,
                              "--outdir", str(tmp_path / "demo")])
        err = capsys.readouterr().err
        assert status == 2 and message in error_line(err)
        assert not (tmp_path / "demo").exists() and not (tmp_path / "other").exists()
    assert snapshot(sim) == before


def test_savesim_never_replaces_a_simulator_of_a_newer_recurrent_sim(script, capsys, tmp_path):
    from tests.commands_tests.test_trust import snapshot
    from tests.commands_tests.test_trust_files import rewrite

    sim = tmp_path / "sim"
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 0, err
    rewrite(sim / "simulator.npz", format_version=3)
    before = snapshot(sim)
    status, out, err = run(script, capsys, tmp_path, *BLOCKWORLD_TRAIN, "--savesim", str(sim))
    assert status == 2
    assert error_line(err).endswith(
        f"--savesim {sim}: {sim / 'simulator.npz'} was written by a newer recurrent_sim (checkpoint format 3; this "
        "one reads formats 1 to 2): upgrade recurrent_sim to load it, or choose another folder")
    assert snapshot(sim) == before
