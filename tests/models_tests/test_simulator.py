"""Tests of the simulator network on tiny sizes (32x32 frames, 8-16 LSTM units)."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.training import load_checkpoint, save_checkpoint


def tiny_config(**overrides):
    settings = dict(frame_shape=(32, 32), n_actions=3, hidden_size=8, encoding_size=16)
    settings.update(overrides)
    return SimulatorConfig(**settings)


def random_frames(rng, *shape):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


@pytest.mark.parametrize("frame_shape", [(32, 32), (84, 84), (40, 52), (210, 160)])
def test_prediction_has_input_frame_shape(frame_shape):
    sim = Simulator(tiny_config(frame_shape=frame_shape))
    rng = np.random.default_rng(0)
    frames = sim.normalize(random_frames(rng, 2, *frame_shape))[:, None]
    state = sim.initial_state(2)
    prediction, (c, h) = sim.predict(frames, np.array([0, 2], dtype=np.int32), state)
    assert prediction.shape == (2, 1) + frame_shape
    assert prediction.dtype == np.float32
    assert c.shape == h.shape == (2, 8)


def test_config_defaults_follow_the_paper_and_reject_bad_sizes():
    config = SimulatorConfig(n_actions=4)
    assert config.hidden_size == 1024 and config.factor_size == 2048
    assert config.feature_shapes()[-1] == (5, 5)
    with pytest.raises(ValueError):
        SimulatorConfig(n_actions=0)
    with pytest.raises(ValueError):
        SimulatorConfig(n_actions=4, frame_shape=(8, 8))
    assert SimulatorConfig.from_dict(config.to_dict()) == config


def test_gradient_reaches_every_parameter():
    sim = Simulator(tiny_config())
    rng = np.random.default_rng(1)
    frames = sim.normalize(random_frames(rng, 2, 32, 32))[:, None]
    state = sim.initial_state(2)
    actions = np.array([1, 2], dtype=np.int32)
    # two steps so the hidden-state path of the action LSTM is exercised too
    prediction, state = sim.predict(frames, actions, state)
    prediction, state = sim.predict(prediction, actions, state)
    loss = chainer.functions.sum(prediction**2)
    sim.cleargrads()
    loss.backward()
    names = [name for name, _ in sim.namedparams()]
    # encoder convs + fc, LSTM (hidden factor W b, action factor W, gates W, W b), decoder fc + deconvs
    assert len(names) == (4 * 2 + 2) + (2 + 1 + 1 + 2) + (2 + 4 * 2)
    for name, param in sim.namedparams():
        if name.endswith("action_factor/W"):
            # only the rows of the actions taken receive gradient
            assert np.abs(param.grad[[1, 2]]).sum() > 0, name
            assert np.abs(param.grad[0]).sum() == 0, name
        else:
            assert param.grad is not None and np.abs(param.grad).sum() > 0, name


def test_action_changes_the_prediction_on_the_first_step_after_reset():
    sim = Simulator(tiny_config())
    rng = np.random.default_rng(2)
    frame = sim.normalize(random_frames(rng, 1, 32, 32))[:, None]
    frames = np.repeat(frame, 3, axis=0)
    state = sim.initial_state(3)  # zero state: the original code ignored the action here
    prediction, _ = sim.predict(frames, np.array([0, 1, 2], dtype=np.int32), state)
    p = prediction.array
    assert np.abs(p[0] - p[1]).max() > 1e-4
    assert np.abs(p[1] - p[2]).max() > 1e-4


def test_stateful_api_matches_functional_api_and_state_is_per_instance():
    sim = Simulator(tiny_config())
    other = Simulator(tiny_config())
    rng = np.random.default_rng(3)
    frames = [sim.normalize(random_frames(rng, 2, 32, 32))[:, None] for _ in range(3)]
    actions = np.array([0, 1], dtype=np.int32)

    state = sim.initial_state(2)
    expected = []
    for f in frames:
        p, state = sim.predict(f, actions, state)
        expected.append(p.array)

    sim.reset_state(2)
    other.reset_state(2)
    for i, f in enumerate(frames):
        np.testing.assert_allclose(sim.step(f, actions).array, expected[i], rtol=1e-6, atol=1e-6)
        if i == 0:
            saved = sim.get_state()
        other.step(f, actions)  # must not disturb sim's state
    sim.set_state(saved)
    np.testing.assert_allclose(sim.step(frames[1], actions).array, expected[1], rtol=1e-6, atol=1e-6)
    sim.reset_state(2)
    np.testing.assert_allclose(sim.step(frames[0], actions).array, expected[0], rtol=1e-6, atol=1e-6)


def test_normalisation_uses_the_mean_image_and_round_trips():
    sim = Simulator(tiny_config())
    rng = np.random.default_rng(4)
    frames = random_frames(rng, 10, 32, 32)
    assert not sim.has_mean_image
    sim.set_mean_image(frames)
    assert sim.has_mean_image
    np.testing.assert_allclose(sim.mean_image, frames.mean(axis=0) / 255.0, atol=1e-6)
    normalized = sim.normalize(frames)
    np.testing.assert_allclose(normalized.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_array_equal(sim.to_uint8(normalized), frames)
    with pytest.raises(ValueError):
        sim.set_mean_image(random_frames(rng, 3, 16, 16))


def test_save_then_load_gives_identical_predictions_and_mean(tmp_path):
    sim = Simulator(tiny_config())
    rng = np.random.default_rng(5)
    sim.set_mean_image(random_frames(rng, 20, 32, 32))
    frames = sim.normalize(random_frames(rng, 2, 32, 32))[:, None]
    actions = np.array([2, 0], dtype=np.int32)
    expected, _ = sim.predict(frames, actions, sim.initial_state(2))

    path = save_checkpoint(tmp_path / "sim", sim, metadata={"env_id": "Test-v0"})
    assert path.endswith("simulator.npz")
    checkpoint = load_checkpoint(tmp_path / "sim")
    assert checkpoint.metadata["env_id"] == "Test-v0"
    loaded = checkpoint.build_simulator()
    assert loaded.config == sim.config
    np.testing.assert_array_equal(loaded.mean_image, sim.mean_image)
    assert loaded.has_mean_image
    reloaded, _ = loaded.predict(loaded.normalize(sim.to_uint8(frames[:, 0]))[:, None], actions,
                                 loaded.initial_state(2))
    direct, _ = sim.predict(sim.normalize(sim.to_uint8(frames[:, 0]))[:, None], actions, sim.initial_state(2))
    np.testing.assert_array_equal(reloaded.array, direct.array)
    assert expected.shape == reloaded.shape
