"""Agents that play the games: A3C on a convolutional head (learning, or
only acting to gather samples for the simulator)."""
import chainer
import numpy as np

from recurrent_sim.agents.a3c import (  # NOQA
    ActingA3C,
    AgentLoadError,
    SaliencyA3C,
    scale_frames,
)
from recurrent_sim.agents.settings import AGENT_LR, BETA, RMSPROP_EPSILON, T_MAX, WEIGHT_DECAY
from recurrent_sim.models.agent_network import AgentNetwork


def build_network(n_actions, obs_shape=(4, 84, 84), seed=0, gpu=-1) -> AgentNetwork:
    """An :class:`AgentNetwork` initialised from ``seed`` (numpy's global
    random state is left as it was), on CUDA device ``gpu`` when >= 0."""
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        network = AgentNetwork(n_actions, obs_shape)
    finally:
        np.random.set_state(saved)
    if gpu is not None and gpu >= 0:
        from recurrent_sim.utils.device import use_device

        use_device(gpu, network)
    return network


def make_acting_agent(n_actions, obs_shape=(4, 84, 84), load=None, seed=0, gpu=-1) -> ActingA3C:
    """A non-learning A3C agent that only chooses actions.

    Args:
        n_actions: number of discrete actions of the game.
        obs_shape: (n_frames, height, width) of its uint8 observations.
        load: agent folder to restore (written by an agent's ``save``);
            None for random initial weights.
        seed: seed of the initial weights and of action sampling.
        gpu: CUDA device id, -1 for the CPU.
    Returns:
        An agent with ``act(obs) -> int``, ``save(dir)``, ``load(dir)``
        and ``saliency(obs)``.
    Raises:
        UserError: ``load`` is missing, unreadable or for another game.
    """
    agent = ActingA3C(build_network(n_actions, obs_shape, seed, gpu), seed=seed)
    if load is not None:
        agent.load(load)
    return agent


def make_learning_agent(
    n_actions,
    obs_shape=(4, 84, 84),
    load=None,
    seed=0,
    gpu=-1,
    lr=AGENT_LR.default,
    rmsprop_epsilon=RMSPROP_EPSILON.default,
    weight_decay=WEIGHT_DECAY.default,
    t_max=T_MAX.default,
    gamma=0.99,
    beta=BETA.default,
) -> SaliencyA3C:
    """A learning A3C agent (chainerrl) with shared RMSProp, as in the A3C paper.

    Args:
        n_actions, obs_shape, load, seed, gpu: as :func:`make_acting_agent`.
        lr: RMSProp learning rate.
        rmsprop_epsilon: RMSProp epsilon.
        weight_decay: L2 weight decay (0 for none).
        t_max: rollout length between updates, steps.
        gamma: discount factor.
        beta: entropy regularisation weight.
    """
    from chainerrl.optimizers import rmsprop_async

    network = build_network(n_actions, obs_shape, seed, gpu)
    optimizer = rmsprop_async.RMSpropAsync(lr=lr, eps=rmsprop_epsilon, alpha=0.99)
    optimizer.setup(network)
    optimizer.add_hook(chainer.optimizer_hooks.GradientClipping(40))
    if weight_decay > 0:
        optimizer.add_hook(chainer.optimizer_hooks.WeightDecay(weight_decay))
    agent = SaliencyA3C(network, optimizer, t_max=t_max, gamma=gamma, beta=beta)
    if load is not None:
        agent.load(load)
    return agent
