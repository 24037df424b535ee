import csv
import json
import os

import numpy as np
import pytest

from recurrent_sim.data.episodes import EpisodeDataset
from recurrent_sim.utils.errors import UserError
from recurrent_sim.training import checkpoint as checkpoint_module
from recurrent_sim.training.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from recurrent_sim.training.offline import OfflineTrainer
from recurrent_sim.training.run_state import check_fresh_output, find_resume_checkpoint, options_of
from recurrent_sim.utils.finite import NonFiniteError
from tests.helpers import small_options, small_settings, write_dataset


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def train_column(rows, field="train_error"):
    return [(int(r["update"]), r[field]) for r in rows if r[field]]


def params(simulator):
    return {name: p.array.copy() for name, p in simulator.namedparams()}


def test_a_run_writes_checkpoints_best_simulator_and_logs(tmp_path, dataset):
    out = str(tmp_path / "run")
    trainer = OfflineTrainer(out, EpisodeDataset([dataset]), small_settings(), small_options(updates=7))
    assert not os.path.exists(out)  # nothing is written before run()
    result = trainer.run()
    assert (result.updates, result.reason, result.exit_code) == (7, "done", 0)
    assert [n for n, _ in list_checkpoints(os.path.join(out, "checkpoints"))] == [6, 7]  # every 2, keep 2, final

    rows = read_csv(os.path.join(out, "log.csv"))
    logged = json.load(open(os.path.join(out, "log.json")))
    assert [int(r["update"]) for r in rows] == [r["update"] for r in logged["rows"]] == [1, 2, 3, 4, 5, 6, 7]
    validations = [(r["update"], r["validation_error"]) for r in logged["rows"] if "validation_error" in r]
    assert [u for u, _ in validations] == [3, 6, 7]  # every 3 and at the end
    losses = [r["train_error"] for r in logged["rows"]]
    assert all(np.isfinite(losses)) and all(0 < loss < 1 for loss in losses)
    assert all(float(rows[i]["train_error"]) == losses[i] for i in range(7))  # CSV and JSON agree exactly

    best = load_checkpoint(out)  # OUT/simulator.npz
    assert best.metadata["error"] == min(e for _, e in validations) == result.best_validation_error
    assert best.metadata["kind"] == "simulator" and not best.has_optimizer
    simulator = best.build_simulator()
    assert simulator.has_mean_image
    frames = np.concatenate([trainer.dataset.episodes[i].frames for i in trainer.train_indices])
    np.testing.assert_allclose(simulator.mean_image, frames.mean(axis=0) / 255, atol=1e-6)

    last = load_checkpoint(os.path.join(out, "checkpoints", "checkpoint_00000007.npz"))
    assert last.has_optimizer and last.metadata["state"]["updates"] == 7
    assert last.metadata["history"] == logged["rows"]
    with pytest.raises(UserError, match="already holds a training run .*checkpoint_00000007.npz.*add --resume"):
        check_fresh_output(out)


def test_resumed_run_matches_the_uninterrupted_one_exactly(tmp_path, dataset):
    data = EpisodeDataset([dataset])
    options = small_options(updates=8, log_every=2, checkpoint_every=3)
    whole = OfflineTrainer(tmp_path / "whole", data, small_settings(), options)
    whole.run()

    part = OfflineTrainer(tmp_path / "part", data, small_settings(), options_of_changes(options, updates=5))
    assert part.run().updates == 5  # checkpoint at 3 and a final one at 5, mid log window
    checkpoint = find_resume_checkpoint(str(tmp_path / "part"))
    assert checkpoint.metadata["updates"] == 5
    resumed = OfflineTrainer.resume(tmp_path / "part", EpisodeDataset([dataset]), checkpoint,
                                    options_of(checkpoint, updates=8))
    assert resumed.run().updates == 8

    whole_rows = read_csv(tmp_path / "whole" / "log.csv")
    part_rows = read_csv(tmp_path / "part" / "log.csv")
    for field in ("train_error", "train_obs_mse", "train_pred_mse"):
        assert train_column(part_rows, field) == train_column(whole_rows, field)
    assert len(train_column(whole_rows)) == 4
    assert dict(train_column(part_rows, "validation_error"))[6] == dict(train_column(whole_rows, "validation_error"))[6]
    a, b = params(whole.simulator), params(resumed.simulator)
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert whole.optimizer.t == resumed.optimizer.t == 8


def options_of_changes(options, **changes):
    import dataclasses

    return dataclasses.replace(options, **changes)


def test_resume_needs_the_same_dataset(tmp_path, dataset):
    OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(), small_options(updates=2)).run()
    checkpoint = find_resume_checkpoint(str(tmp_path / "run"))
    other = write_dataset(tmp_path / "other", [20, 20, 20, 21])
    with pytest.raises(UserError, match="the dataset differs from the one this run started with"):
        OfflineTrainer.resume(tmp_path / "run", EpisodeDataset([other]), checkpoint, options_of(checkpoint))
    moved = tmp_path / "moved"
    os.rename(dataset, moved)  # the same episodes elsewhere are fine
    OfflineTrainer.resume(tmp_path / "run", EpisodeDataset([moved]), checkpoint, options_of(checkpoint, updates=3))


def test_resume_errors(tmp_path):
    with pytest.raises(UserError, match=r"--resume: .*nowhere does not exist; start without --resume"):
        find_resume_checkpoint(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no checkpoint to resume from"):
        find_resume_checkpoint(str(tmp_path / "empty"))
    folder = tmp_path / "broken" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "checkpoint_00000004.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(UserError, match=r"none of the 1 checkpoint\(s\) in .* loads \(set aside as \*.damaged\)"):
        find_resume_checkpoint(str(tmp_path / "broken"))
    from recurrent_sim.models import Simulator, SimulatorConfig

    save_checkpoint(tmp_path / "online" / "checkpoints" / "checkpoint_00000001.npz",
                    Simulator(SimulatorConfig((32, 32), 5, 8, encoding_size=8)), metadata={"steps": 1})
    with pytest.raises(UserError, match="is not a checkpoint of `recurrent-sim train`"):
        find_resume_checkpoint(str(tmp_path / "online"))


def _nan_on_calls(trainer, bad_calls):
    """Make the loss of the listed update steps of ``trainer`` (1-based) NaN."""
    real = trainer.step.loss_function
    calls = []

    def loss(simulator, batch):
        value, metrics = real(simulator, batch)
        calls.append(1)
        if len(calls) in bad_calls:
            value = value * np.float32(np.nan)
        return value, metrics

    trainer.step.loss_function = loss


def test_a_non_finite_batch_is_skipped_and_counted(tmp_path, dataset):
    trainer = OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(validation_fraction=0),
                             small_options(updates=4))
    _nan_on_calls(trainer, {2})
    result = trainer.run()
    assert (result.updates, result.exit_code, trainer.state.skipped) == (4, 0, 1)
    rows = read_csv(tmp_path / "run" / "log.csv")
    assert [int(r["skipped_batches"]) for r in rows] == [0, 1, 1, 1]
    assert [int(r["sequences_seen"]) for r in rows] == [2, 6, 8, 10]
    assert all(np.isfinite(p.array).all() for p in load_checkpoint(tmp_path / "run").build_simulator().params())


def test_stop_on_non_finite_keeps_good_state(tmp_path, dataset):
    trainer = OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(validation_fraction=0),
                             small_options(updates=10, on_nonfinite="stop"))
    _nan_on_calls(trainer, {4})
    result = trainer.run()
    assert (result.updates, result.reason, result.exit_code) == (3, "non-finite", 1)
    assert "loss is nan at update 4" in result.message
    checkpoint = load_checkpoint(result.last_checkpoint)
    assert checkpoint.metadata["updates"] == 3
    assert all(np.isfinite(p.array).all() for p in checkpoint.build_simulator().params())


def test_too_many_non_finite_batches_in_a_row_stop_the_run(tmp_path, dataset):
    trainer = OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(),
                             small_options(updates=10, max_nonfinite=5))
    _nan_on_calls(trainer, set(range(1, 100)))
    result = trainer.run()
    assert (result.updates, result.exit_code, trainer.state.skipped) == (0, 1, 5)
    assert "5 batches in a row" in result.message
    assert list_checkpoints(tmp_path / "run" / "checkpoints") == []  # nothing trained: nothing saved
    assert not os.path.exists(tmp_path / "run" / "simulator.npz")


def test_non_finite_parameters_are_never_saved(tmp_path, dataset, monkeypatch):
    trainer = OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(),
                             small_options(updates=10, checkpoint_every=2, validate_every=2))
    real_update = trainer.optimizer.update
    count = []

    def poisoned_update():
        real_update()
        count.append(1)
        if len(count) == 3:
            next(iter(trainer.simulator.params())).array[...] = np.inf

    monkeypatch.setattr(trainer.optimizer, "update", poisoned_update)
    checkpoint_2 = tmp_path / "run" / "checkpoints" / "checkpoint_00000002.npz"
    result = trainer.run()
    assert (result.updates, result.reason, result.exit_code) == (2, "non-finite", 1)
    assert "made the parameters non-finite, they are not saved" in result.message
    assert [n for n, _ in list_checkpoints(tmp_path / "run" / "checkpoints")] == [2]
    assert load_checkpoint(checkpoint_2).metadata["updates"] == 2
    assert load_checkpoint(tmp_path / "run").metadata["updates"] == 2
    with pytest.raises(NonFiniteError, match="parameters are not finite and were not saved"):
        trainer.save_checkpoint()


def test_without_validation_the_newest_checkpoint_is_served(tmp_path, dataset):
    trainer = OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(validation_fraction=0),
                             small_options(updates=3))
    trainer.run()
    served = load_checkpoint(tmp_path / "run")
    assert served.metadata["updates"] == 3 and served.metadata["error"] is None
    assert all(np.array_equal(p.array, q.array)
               for p, q in zip(served.build_simulator().params(), trainer.simulator.params()))


def test_a_run_can_start_from_a_saved_simulator(tmp_path, dataset):
    first = OfflineTrainer(tmp_path / "a", EpisodeDataset([dataset]), small_settings(), small_options(updates=2))
    first.run()
    init = load_checkpoint(tmp_path / "a")
    second = OfflineTrainer(tmp_path / "b", EpisodeDataset([dataset]), small_settings(seed=5), small_options(),
                            init=init)
    assert all(np.array_equal(p.array, q.array) for p, q in zip(second.simulator.params(), first.simulator.params()))
    np.testing.assert_array_equal(second.simulator.mean_image, first.simulator.mean_image)


def test_best_error_of_a_newer_best_simulator_is_kept_on_resume(tmp_path, dataset):
    OfflineTrainer(tmp_path / "run", EpisodeDataset([dataset]), small_settings(), small_options(updates=3)).run()
    best = load_checkpoint(tmp_path / "run")
    simulator = best.build_simulator()
    # A best simulator saved after the newest checkpoint (the run died between the two writes):
    save_checkpoint(tmp_path / "run", simulator, metadata=dict(best.metadata, error=1e-9))
    checkpoint = find_resume_checkpoint(str(tmp_path / "run"))
    trainer = OfflineTrainer.resume(tmp_path / "run", EpisodeDataset([dataset]), checkpoint, options_of(checkpoint))
    assert trainer.state.best_validation_error == 1e-9


def test_settings_and_options_reject_bad_values_naming_the_setting():
    from recurrent_sim.utils.settings import SettingError

    with pytest.raises(SettingError, match="batch_size must be a positive integer, got 0") as error:
        small_settings(batch_size=0)
    assert error.value.setting == "batch_size"
    assert error.value.message_for("--batch-size") == "--batch-size must be a positive integer, got 0"
    with pytest.raises(SettingError, match=r"validation_fraction must be in \[0, 1\), got 1"):
        small_settings(validation_fraction=1)
    with pytest.raises(SettingError, match="checkpoint_every must be a positive integer, got -1"):
        small_options(checkpoint_every=-1)
    with pytest.raises(UserError, match="on_nonfinite must be 'skip' or 'stop'"):
        small_options(on_nonfinite="ignore")
    assert checkpoint_module.CHECKPOINT_FILENAME == "simulator.npz"
