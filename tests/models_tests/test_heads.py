"""Reward, episode-end and error heads: optional, on every architecture, saved and loaded with the model."""
import chainer
import numpy as np
import pytest

from recurrent_sim.models import HeadOutputs, SimulatorConfig, build_simulator, class_rewards, reward_classes, simulator_config
from recurrent_sim.training.checkpoint import load_checkpoint, save_checkpoint

SIZE = 32


def small(architecture="paper", heads=True):
    options = dict(frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=16, heads=heads)
    if architecture == "paper":
        return build_simulator(SimulatorConfig(**options))
    return build_simulator(simulator_config(architecture, **options))


def one_step(sim, batch=2):
    frames = np.random.RandomState(0).rand(batch, 1, SIZE, SIZE).astype(np.float32)
    actions = np.array([0, 2][:batch], dtype=np.int32)
    return sim.predict(frames, actions, sim.initial_state(batch))


def test_no_heads_by_default():
    sim = build_simulator(SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=16))
    assert not sim.has_heads and not hasattr(sim, "state_heads")
    _, state = one_step(sim)
    assert sim.heads(state) is None


@pytest.mark.parametrize("architecture", ["paper", "original", "skip", "independent"])
def test_heads_read_the_state_of_every_architecture(architecture):
    sim = small(architecture)
    assert sim.has_heads
    _, state = one_step(sim)
    outputs = sim.heads(state)
    assert isinstance(outputs, HeadOutputs)
    assert outputs.reward_logits.shape == (2, 3) and outputs.done_logit.shape == (2,)
    assert outputs.error_estimate.shape == (2,) and outputs.error_estimate.dtype == np.float32
    assert (outputs.error_estimate.array > 0).all()


def test_heads_depend_on_the_state_and_pass_gradients_to_the_simulator():
    sim = small()
    _, state = one_step(sim)
    outputs = sim.heads(state)
    assert not np.allclose(outputs.reward_logits.array[0], outputs.reward_logits.array[1])
    sim.cleargrads()
    chainer.functions.sum(outputs.reward_logits).backward()
    assert sim.transition_lstm.factor_to_gates.W.grad is not None
    assert np.abs(sim.transition_lstm.factor_to_gates.W.grad).sum() > 0


def test_reward_classes_are_signs():
    np.testing.assert_array_equal(reward_classes([-3.0, -0.1, 0.0, 0.5, 7.0]), [0, 0, 1, 2, 2])
    np.testing.assert_array_equal(class_rewards([0, 1, 2]), [-1.0, 0.0, 1.0])


def test_checkpoint_records_the_heads_and_old_configurations_load_without(tmp_path):
    sim = small()
    sim.set_mean_image(np.zeros((1, SIZE, SIZE), dtype=np.uint8))
    save_checkpoint(tmp_path / "with.npz", sim)
    loaded = load_checkpoint(tmp_path / "with.npz").build_simulator()
    assert loaded.has_heads
    np.testing.assert_array_equal(loaded.state_heads.reward.W.array, sim.state_heads.reward.W.array)

    old = SimulatorConfig(frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8, encoding_size=16).to_dict()
    del old["heads"]  # a configuration saved before heads existed
    assert SimulatorConfig.from_dict(old).heads is False
    plain = build_simulator(SimulatorConfig.from_dict(old))
    plain.set_mean_image(np.zeros((1, SIZE, SIZE), dtype=np.uint8))
    save_checkpoint(tmp_path / "without.npz", plain)
    assert not load_checkpoint(tmp_path / "without.npz").build_simulator().has_heads
