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


def frame_heads(architecture="motion"):
    return build_simulator(simulator_config(architecture, frame_shape=(SIZE, SIZE), n_actions=3, hidden_size=8,
                                            encoding_size=16, heads=True, head_input="frame"))


def test_frame_heads_read_the_predicted_frame_and_send_no_gradient_into_it():
    sim = frame_heads()
    assert sim.heads_read_frames
    prediction, state = one_step(sim)
    with pytest.raises(ValueError, match="read the predicted frame"):
        sim.heads(state)
    blank = np.zeros_like(prediction.array)
    square = blank.copy()
    square[:, :, 20:26, 4:10] = 0.8
    outputs = sim.heads(state, blank)
    moved = sim.heads(state, square)
    assert not np.allclose(outputs.reward_logits.array, moved.reward_logits.array)  # the frame counts
    frame = chainer.Variable(square)
    sim.cleargrads()
    chainer.functions.sum(sim.heads(state, frame).done_logit).backward()
    assert frame.grad is None  # the heads' losses never change the frames
    assert np.abs(sim.state_heads.frame_conv1.W.grad).sum() > 0


def test_frame_heads_see_where_in_the_frame_an_object_is():
    """The coordinate planes make an object at the bottom differ from the same object at the top."""
    sim = frame_heads()
    _, state = one_step(sim, batch=1)
    top, bottom = np.zeros((1, 1, SIZE, SIZE), np.float32), np.zeros((1, 1, SIZE, SIZE), np.float32)
    top[..., 2:6, 10:14], bottom[..., SIZE - 4:, 10:14] = 1.0, 1.0
    features = [sim.state_heads.frame_features(frame).array for frame in (top, bottom)]
    assert not np.allclose(features[0], features[1])


def test_head_input_is_checked_and_old_configurations_read_the_state():
    with pytest.raises(ValueError, match="head_input must be one of state, frame"):
        SimulatorConfig(frame_shape=(SIZE, SIZE), heads=True, head_input="pixels")
    stored = SimulatorConfig(frame_shape=(SIZE, SIZE), heads=True).to_dict()
    del stored["head_input"]
    assert SimulatorConfig.from_dict(stored).head_input == "state"


def test_new_heads_on_a_checkpoint_keep_every_other_weight(tmp_path):
    plain = small("motion", heads=False)
    path = save_checkpoint(tmp_path / "plain", plain)
    sim = frame_heads()
    heads_before = {name: p.array.copy() for name, p in sim.state_heads.namedparams()}
    load_checkpoint(path).restore_simulator(sim, new_heads=True)
    for name, param in plain.namedparams():
        np.testing.assert_array_equal(dict(sim.namedparams())[name].array, param.array)
    for name, param in sim.state_heads.namedparams():
        np.testing.assert_array_equal(param.array, heads_before[name])
    with pytest.raises(Exception, match="was asked for"):
        load_checkpoint(path).restore_simulator(sim)  # without new_heads the heads must match
