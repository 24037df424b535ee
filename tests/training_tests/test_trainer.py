"""Tests of the online simulator trainer: schedule, mean image, saving, bad losses."""
import math

import numpy as np
import pytest

from recurrent_sim.data import SampleBuffer
from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import (
    SequenceSchedule,
    SimulatorTrainer,
    TrainingSchedule,
    load_checkpoint,
    make_optimizer,
    sequence_loss,
)

SEQUENCE = SequenceSchedule(unroll_dep=2, obs_dep=2, pred_dep=2)


def make_trainer(tmp_path=None, capacity=200, **schedule):
    settings = dict(batch_size=2, warm_up_steps=20, training_steps=5, saving_steps=10)
    settings.update(schedule)
    sim = Simulator(SimulatorConfig(frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=16))
    trainer = SimulatorTrainer(
        sim,
        make_optimizer(sim, lr=1e-3),
        SampleBuffer(capacity, (32, 32), seed=0),
        sequence=SEQUENCE,
        schedule=TrainingSchedule(**settings),
        savesim=None if tmp_path is None else str(tmp_path / "new" / "folder"),
        metadata={"env_id": "Test-v0"},
    )
    return trainer


def feed(trainer, steps, rng, episode_length=1000):
    losses = {}
    for _ in range(steps):
        frame = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        step = trainer.steps + 1
        loss = trainer.observe(frame, int(rng.integers(3)), 0.0, step % episode_length == 0)
        if loss is not None:
            losses[step] = loss
    return losses


def test_updates_follow_the_schedule():
    trainer = make_trainer(warm_up_steps=20, training_steps=5)
    losses = feed(trainer, 41, np.random.default_rng(0))
    assert sorted(losses) == [20, 25, 30, 35, 40]
    assert trainer.updates == 5
    assert all(math.isfinite(v) and v > 0 for v in losses.values())


def test_no_update_until_a_whole_sequence_fits_between_episode_ends():
    # episodes of 5 transitions never hold the 7 frames a sequence needs
    trainer = make_trainer(warm_up_steps=0, training_steps=1)
    assert feed(trainer, 30, np.random.default_rng(1), episode_length=5) == {}
    assert trainer.updates == 0


def test_mean_image_comes_from_the_first_frames_seen():
    trainer = make_trainer(warm_up_steps=10, training_steps=10)
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(10)]
    for i, frame in enumerate(frames):
        trainer.observe(frame, 0, 0.0, False)
    assert trainer.updates == 1
    np.testing.assert_allclose(trainer.simulator.mean_image, np.mean(frames, axis=0) / 255.0, atol=1e-6)


def test_best_simulator_is_saved_to_a_new_folder_and_reloads(tmp_path):
    trainer = make_trainer(tmp_path, warm_up_steps=10, training_steps=2, saving_steps=10)
    feed(trainer, 30, np.random.default_rng(3), episode_length=10)  # the second episode is held out
    folder = tmp_path / "new" / "folder"
    assert (folder / "simulator.npz").exists()
    checkpoint = load_checkpoint(folder)
    assert checkpoint.metadata["env_id"] == "Test-v0"
    assert checkpoint.metadata["error"] == pytest.approx(trainer.best_error)
    assert (checkpoint.metadata["kind"], checkpoint.metadata["error_source"]) == ("simulator", "validation")
    assert checkpoint.metadata["settings"]["validation_fraction"] == 0.1
    assert checkpoint.metadata["settings"]["sequence"] == {"unroll_dep": 2, "obs_dep": 2, "pred_dep": 2}
    loaded = checkpoint.build_simulator()
    np.testing.assert_array_equal(loaded.mean_image, trainer.simulator.mean_image)
    if checkpoint.metadata["steps"] == trainer.steps:
        for (name, p), (_, q) in zip(sorted(loaded.namedparams()), sorted(trainer.simulator.namedparams())):
            np.testing.assert_array_equal(p.array, q.array, err_msg=name)
    optimizer = make_optimizer(loaded)
    checkpoint.restore_optimizer(optimizer)
    assert optimizer.t == checkpoint.metadata["updates"]


def test_no_save_point_saves_before_a_held_out_episode_holds_a_sequence(tmp_path):
    trainer = make_trainer(tmp_path, warm_up_steps=4, training_steps=2, saving_steps=10)
    feed(trainer, 30, np.random.default_rng(4))  # one long episode: nothing held out
    assert trainer.updates > 0 and trainer.last_saved_path is None and len(trainer.held_out) == 0
    assert trainer.save_if_best(force=True)  # the end of a run saves it anyway, without an error
    assert load_checkpoint(trainer.last_saved_path).metadata["error"] is None


def test_the_best_simulator_is_chosen_by_validation_error_not_training_error(tmp_path):
    trainer = make_trainer(tmp_path, warm_up_steps=4, training_steps=2, saving_steps=1000)
    feed(trainer, 24, np.random.default_rng(4), episode_length=8)  # episode 2 (steps 9-16) is held out
    assert len(trainer.held_out) == 8 and trainer.updates > 0
    trained = {name: p.array.copy() for name, p in trainer.simulator.namedparams()}

    def spoil():  # much worse on every sequence, held out or not
        for _, p in trainer.simulator.namedparams():
            p.array[...] += np.random.default_rng(0).normal(0, 1, p.shape).astype(p.dtype)

    spoil()
    assert trainer.save_if_best() is not None  # the first is the best so far
    spoiled_error = trainer.best_error
    for name, p in trainer.simulator.namedparams():
        p.array[...] = trained[name]
    trainer._errors_since_save = [1e6]  # a training error far worse than any so far ...
    path = trainer.save_if_best()  # ... but a better validation error: saved
    assert path is not None and trainer.best_error < spoiled_error
    assert load_checkpoint(path).metadata["error"] == pytest.approx(trainer.best_error)
    before = open(path, "rb").read()
    spoil()
    trainer._errors_since_save = [1e-9]  # a training error far better than any so far ...
    assert trainer.save_if_best() is None  # ... but a worse validation error: not saved
    assert open(path, "rb").read() == before and trainer.last_error > trainer.best_error


def test_non_finite_loss_is_skipped_and_counted():
    trainer = make_trainer(warm_up_steps=0, training_steps=1)
    feed(trainer, 10, np.random.default_rng(5))
    updates = trainer.updates
    fc = trainer.simulator.decoder.fc
    fc.W.array[...] = np.nan
    weights_before = trainer.simulator.encoder.fc.W.array.copy()
    assert trainer.update() is None
    assert trainer.skipped_updates == 1 and trainer.updates == updates
    np.testing.assert_array_equal(trainer.simulator.encoder.fc.W.array, weights_before)


@pytest.mark.parametrize("warm,obs,pred", [(2, 2, 2), (0, 3, 2), (3, 0, 3), (2, 3, 0)])
def test_sequence_loss_matches_a_step_by_step_computation(warm, obs, pred):
    schedule = SequenceSchedule(warm, obs, pred)
    sim = Simulator(SimulatorConfig(frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=16))
    rng = np.random.default_rng(6)
    frames = rng.integers(0, 256, (2, schedule.sequence_length, 32, 32), dtype=np.uint8)
    sim.set_mean_image(frames[0])
    actions = rng.integers(0, 3, (2, schedule.sequence_length - 1)).astype(np.int32)
    result = sequence_loss(sim, frames, actions, schedule)

    x = sim.normalize(frames)[:, :, None]
    state = sim.initial_state(2)
    errors, previous = [], None
    for t in range(schedule.sequence_length - 1):
        inputs = x[:, t] if t < warm + obs or previous is None else previous
        prediction, state = sim.predict(inputs, actions[:, t], state)
        if t >= warm:
            errors.append(float(((prediction.array - x[:, t + 1]) ** 2).mean()))
        previous = prediction.array
    assert float(result.loss.array) == pytest.approx(np.mean(errors), rel=1e-5)
    if obs:
        assert result.obs_mse == pytest.approx(np.mean(errors[:obs]), rel=1e-5)
    if pred:
        assert result.pred_mse == pytest.approx(np.mean(errors[obs:]), rel=1e-5)


def test_sequence_schedule_rejects_impossible_splits():
    with pytest.raises(ValueError):
        SequenceSchedule(-1, 2, 2)
    with pytest.raises(ValueError):
        SequenceSchedule(3, 0, 0)
    with pytest.raises(ValueError):
        SequenceSchedule(0, 0, 3)
    assert SequenceSchedule(15, 10, 10).sequence_length == 36
