"""`recurrent-sim bench` end to end on the tiny synthetic game (a smoke run, no timing asserted)."""
import json

import pytest

from recurrent_sim.cli import main

EXPECTED_KEYS = {
    "env_random", "env_agent", "train_fast", "train_reference", "sim_batch_1", "sim_batch_n", "sim_reference",
    "independent_decoding", "independent",
}


def run_bench(tmp_path, *extra):
    out = tmp_path / "bench.json"
    argv = ["bench", "--quick", "--env", "BlockWorld-v0", "--frame-size", "32", "--out", str(out), *extra]
    return main(argv), out


def test_bench_prints_table_and_writes_json(tmp_path, capsys):
    status, out = run_bench(tmp_path)
    assert status == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["run"]["settings"]["quick"] is True and report["run"]["packages"]["chainer"] == "7.8.1"

    rows = {row["key"]: row for row in report["measurements"]}
    assert set(rows) == EXPECTED_KEYS
    for row in rows.values():
        assert row["value"] > 0 and len(row["samples"]) == 1
        assert row["value"] == pytest.approx(row["samples"][0])
        assert row["label"] in printed
    # Frames per update: batch 2 x (2 + 2 + 2) steps; simulated steps: 4 games x 3 steps.
    train = rows["train_fast"]
    assert train["value"] == pytest.approx(2 * 6 / train["seconds"][0])
    batched = rows["sim_batch_n"]
    assert batched["value"] == pytest.approx(4 * 3 / batched["seconds"][0])
    independent = rows["independent"]
    assert independent["value"] == pytest.approx(4 * 3 / independent["seconds"][0])
    assert report["speedups"]["independent_vs_game"] == pytest.approx(
        independent["value"] / rows["env_random"]["value"]
    )
    assert "independent simulator batch 4, last frame decoded / real game" in printed
    assert report["speedups"]["training"] == pytest.approx(
        rows["train_fast"]["value"] / rows["train_reference"]["value"]
    )
    assert report["settings"]["env_id"] == "BlockWorld-v0"
    assert set(report["system"]["threads"]) >= {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"}
    assert report["system"]["chainer"] and report["system"]["numpy"]
    assert f"OpenBLAS kernels {report['system']['blas_core'] or 'unknown'}" in printed
    assert report["peak_memory_mib"] > 10
    assert "speed-up training" in printed and "OMP_NUM_THREADS" in printed


def test_bench_without_reference(tmp_path):
    status, out = run_bench(tmp_path, "--reference-repeats", "0")
    assert status == 0
    report = json.loads(out.read_text())
    keys = {row["key"] for row in report["measurements"]}
    assert keys == EXPECTED_KEYS - {"train_reference", "sim_reference"}
    assert set(report["speedups"]) == {"independent_vs_game", "independent_decoding_vs_game"}


def test_bench_user_errors(tmp_path, capsys):
    assert main(["bench", "--quick", "--env", "Breakout-v9", "--out", str(tmp_path / "x.json")]) == 2
    assert "Breakout" in capsys.readouterr().err
    assert main(["bench", "--quick", "--out", str(tmp_path / "missing" / "x.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "missing").exists()
    # Frames the simulator takes but the bench's agent cannot: one line, before any game is played.
    assert main(["bench", "--quick", "--frame-size", "16", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "--frame-size 16 is too small for the agent" in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "x.json").exists()


def test_failed_bench_leaves_previous_json(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text('{"previous": true}')
    assert main(["bench", "--quick", "--env", "NoSuchGame-v0", "--out", str(out)]) == 2
    assert json.loads(out.read_text()) == {"previous": True}


def test_gpu_without_cupy_is_a_user_error(capsys):
    chainer = pytest.importorskip("chainer")
    if chainer.backends.cuda.available:
        pytest.skip("CuPy is installed")
    assert main(["bench", "--quick", "--gpu", "0"]) == 2
    assert "CuPy" in capsys.readouterr().err


def test_default_configuration_is_breakout_lstm_512():
    from recurrent_sim.cli import build_parser

    args = build_parser().parse_args(["bench"])
    assert (args.env, args.frame_size, args.hidden_size, args.batch_size) == ("BreakoutDeterministic-v4", 84, 512, 16)
    assert (args.unroll_dep, args.obs_dep, args.pred_dep) == (15, 10, 15)
    assert (args.inference_batch, args.gpu) == (64, -1)
