"""A3C agents: the acting one (used to gather samples) and the learning one."""
import json
import os

import numpy as np
import pytest

from recurrent_sim.agents import make_acting_agent, make_learning_agent
from recurrent_sim.utils.errors import UserError
from recurrent_sim.models.agent_network import AgentNetwork, saliency

OBS_SHAPE = (4, 32, 32)


def _obs(seed=0):
    return np.random.RandomState(seed).randint(0, 256, OBS_SHAPE).astype(np.uint8)


def test_network_outputs_a_distribution_and_values():
    net = AgentNetwork(5, OBS_SHAPE)
    pi, v = net.pi_and_v(np.random.rand(3, *OBS_SHAPE).astype(np.float32))
    assert pi.all_prob.shape == (3, 5)
    np.testing.assert_allclose(pi.all_prob.array.sum(axis=1), 1.0, rtol=1e-5)
    assert v.shape == (3, 1)


@pytest.mark.parametrize("obs_shape", [(4, 8, 84), (0, 84, 84), (4, 84)])
def test_network_refuses_bad_shapes(obs_shape):
    with pytest.raises(ValueError):
        AgentNetwork(4, obs_shape)


def test_acting_agent_acts_in_range_and_is_reproducible():
    agent = make_acting_agent(5, OBS_SHAPE, seed=3)
    actions = [agent.act(_obs(i)) for i in range(50)]
    assert all(isinstance(a, int) and 0 <= a < 5 for a in actions)
    assert len(set(actions)) > 1  # it samples from its policy
    again = make_acting_agent(5, OBS_SHAPE, seed=3)
    assert [again.act(_obs(i)) for i in range(50)] == actions


def test_acting_agent_does_not_touch_global_random_state():
    state = np.random.get_state()[1].copy()
    agent = make_acting_agent(5, OBS_SHAPE, seed=1)
    agent.act(_obs())
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_acting_agent_never_learns():
    agent = make_acting_agent(5, OBS_SHAPE)
    before = agent.model.fc.W.array.copy()
    for t in range(12):
        agent.act_and_train(_obs(t), 1.0)
    agent.stop_episode_and_train(_obs(), 1.0, done=True)
    np.testing.assert_array_equal(agent.model.fc.W.array, before)


def test_save_load_round_trip(tmp_path):
    agent = make_acting_agent(5, OBS_SHAPE, seed=1)
    agent.save(str(tmp_path / "agent"))
    assert sorted(os.listdir(tmp_path / "agent")) == ["agent.json", "model.npz"]
    info = json.loads((tmp_path / "agent" / "agent.json").read_text())
    assert info == {"n_actions": 5, "obs_shape": list(OBS_SHAPE)}
    other = make_acting_agent(5, OBS_SHAPE, seed=2, load=str(tmp_path / "agent"))
    for name, param in agent.model.namedparams():
        np.testing.assert_array_equal(dict(other.model.namedparams())[name].array, param.array)


def test_load_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no model.npz"):
        make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "empty"))


def test_load_agent_of_another_game_is_a_user_error(tmp_path):
    make_acting_agent(4, OBS_SHAPE).save(str(tmp_path / "a"))
    with pytest.raises(UserError, match="4 actions"):
        make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "a"))
    # without agent.json the mismatch is still caught, by the weights' shapes
    os.remove(tmp_path / "a" / "agent.json")
    with pytest.raises(UserError, match="cannot load"):
        make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "a"))


def test_corrupted_model_is_a_user_error_and_save_is_atomic(tmp_path):
    agent = make_acting_agent(5, OBS_SHAPE)
    agent.save(str(tmp_path / "a"))
    (tmp_path / "a" / "model.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError):
        make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "a"))
    agent.save(str(tmp_path / "a"))
    assert sorted(os.listdir(tmp_path / "a")) == ["agent.json", "model.npz"]  # no temporary files left
    make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "a"))


def test_learning_agent_updates_every_t_max_steps_and_reloads(tmp_path):
    agent = make_learning_agent(5, OBS_SHAPE, t_max=3, lr=1e-2)
    before = agent.shared_model.fc.W.array.copy()
    agent.act_and_train(_obs(0), 0.0)
    agent.act_and_train(_obs(1), 1.0)
    agent.act_and_train(_obs(2), 1.0)
    np.testing.assert_array_equal(agent.shared_model.fc.W.array, before)  # not yet t_max steps
    agent.act_and_train(_obs(3), 1.0)  # the 4th call updates on the first 3 steps
    assert not np.allclose(agent.shared_model.fc.W.array, before)
    agent.stop_episode_and_train(_obs(4), 1.0, done=True)
    agent.save(str(tmp_path / "l"))
    assert sorted(os.listdir(tmp_path / "l")) == ["agent.json", "model.npz", "optimizer.npz"]
    reloaded = make_learning_agent(5, OBS_SHAPE, load=str(tmp_path / "l"))
    np.testing.assert_array_equal(reloaded.shared_model.fc.W.array, agent.shared_model.fc.W.array)
    np.testing.assert_array_equal(reloaded.model.fc.W.array, agent.shared_model.fc.W.array)
    # an acting agent can play with what the learning one learnt
    actor = make_acting_agent(5, OBS_SHAPE, load=str(tmp_path / "l"))
    np.testing.assert_array_equal(actor.model.fc.W.array, agent.shared_model.fc.W.array)


def test_saliency_is_the_guided_gradient_of_the_chosen_logit():
    agent = make_acting_agent(5, OBS_SHAPE, seed=0)
    obs = _obs()
    action, grad = agent.saliency(obs)
    assert grad.shape == OBS_SHAPE and grad.dtype == np.float32
    assert np.abs(grad).sum() > 0
    logits = agent.model.logits(agent.phi(obs)[None]).array[0]
    assert action == int(logits.argmax())
    # guided backprop keeps only positive gradients through each ReLU, so it
    # differs from the plain input gradient
    import chainer

    x = chainer.Variable(agent.phi(obs)[None])
    agent.model.logits(x)[0, action].backward()
    assert not np.allclose(x.grad[0], grad)
    # explaining another action gives another map
    other, grad_other = saliency(agent.model, agent.phi(obs), (action + 1) % 5)
    assert other == (action + 1) % 5 and not np.allclose(grad, grad_other)
