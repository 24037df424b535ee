"""A3C agents on the convolutional head: a learning one and one that only acts.

Both see observations as (n_frames, height, width) uint8 stacked gray
frames; :func:`scale_frames` turns them into float32 in [0, 1] inside the
agent (chainerrl's ``phi``). Both can compute guided-backprop saliency maps
of their policy (:meth:`SaliencyMixin.saliency`).

An agent folder holds ``model.npz`` (the network), ``optimizer.npz`` (the
learning agent's optimiser state) and ``agent.json`` (number of actions and
observation shape), each file written atomically.
"""
import json
import logging
import os

import chainer
import numpy as np
from chainer import serializers
from chainerrl.agents.a3c import A3C

from recurrent_sim.utils.errors import UserError
from recurrent_sim.models.agent_network import saliency
from recurrent_sim.utils.files import READ_ERRORS, atomic_write
from recurrent_sim.utils.finite import link_arrays, optimizer_arrays, refuse_nonfinite, require_finite

logger = logging.getLogger(__name__)

AGENT_INFO_FILENAME = "agent.json"
MODEL_FILENAME = "model.npz"
OPTIMIZER_FILENAME = "optimizer.npz"


def scale_frames(obs) -> np.ndarray:
    """(n_frames, H, W) uint8 -> float32 in [0, 1] (the agent's ``phi``)."""
    return np.asarray(obs, dtype=np.float32) * np.float32(1.0 / 255.0)


class AgentLoadError(UserError):
    """An agent folder is missing, unreadable or made for another game."""


class SaliencyMixin:
    """Saliency maps, atomic save and checked load for A3C agents on
    :class:`~recurrent_sim.models.agent_network.AgentNetwork`."""

    def _batch_on_model_device(self, states, xp, phi):
        """Batch observations on the model's device (chainerrl passes numpy)."""
        batch = np.stack([phi(s) for s in states])
        return self.model.xp.asarray(batch)

    def saliency(self, obs, action=None):
        """Guided-backprop saliency of the policy for one observation.

        Args:
            obs: (n_frames, H, W) uint8 observation.
            action: the action explained; the most probable one when None.
        Returns:
            (action, (n_frames, H, W) float32 map, the gradient of the
            action's logit with respect to each input pixel).
        """
        return saliency(self.model, self.phi(obs), action)

    @property
    def info(self) -> dict:
        """What an agent folder must match: number of actions and observation shape."""
        return {"n_actions": self.model.n_actions, "obs_shape": list(self.model.obs_shape)}

    def save(self, dirname):
        """Write the agent to folder ``dirname`` (created if missing).

        Raises :class:`NonFiniteError` (nothing written) when a weight or an
        optimiser state is not finite.
        """
        arrays = list(link_arrays(self.model))
        if self.optimizer is not None:
            arrays += list(optimizer_arrays(self.optimizer))
        require_finite(arrays, f"agent {dirname}", "its training diverged: try a lower --lr")
        os.makedirs(dirname, exist_ok=True)
        atomic_write(
            os.path.join(dirname, AGENT_INFO_FILENAME),
            lambda f: f.write(json.dumps(self.info, sort_keys=True).encode()),
        )
        atomic_write(os.path.join(dirname, MODEL_FILENAME), lambda f: serializers.save_npz(f, self.model))
        if self.optimizer is not None:
            atomic_write(
                os.path.join(dirname, OPTIMIZER_FILENAME), lambda f: serializers.save_npz(f, self.optimizer)
            )

    def load(self, dirname):
        """Read an agent folder written by :meth:`save`.

        The optimiser state is read when this agent has an optimiser and the
        folder holds one. Raises :class:`AgentLoadError` (a UserError) when
        the folder is missing, unreadable, or made for another game.
        """
        dirname = os.fspath(dirname)
        model_file = os.path.join(dirname, MODEL_FILENAME)
        if not os.path.isdir(dirname):
            raise AgentLoadError(f"agent folder {dirname} does not exist")
        if not os.path.exists(model_file):
            raise AgentLoadError(f"agent folder {dirname} holds no {MODEL_FILENAME}")
        info_file = os.path.join(dirname, AGENT_INFO_FILENAME)
        if os.path.exists(info_file):
            try:
                with open(info_file) as f:
                    saved = json.load(f)
            except (OSError, ValueError) as e:
                raise AgentLoadError(f"cannot read {info_file}: {e}") from None
            if saved != self.info:
                raise AgentLoadError(
                    f"agent in {dirname} was saved for {saved.get('n_actions')} actions and observations "
                    f"{tuple(saved.get('obs_shape', ()))}, this game needs {self.info['n_actions']} actions "
                    f"and {tuple(self.info['obs_shape'])}"
                )
        self._load_file(model_file, self.model)
        optimizer_file = os.path.join(dirname, OPTIMIZER_FILENAME)
        if self.optimizer is not None:
            if os.path.exists(optimizer_file):
                self._load_file(optimizer_file, self.optimizer, strict=False)
            else:
                logger.warning("%s holds no optimizer state; the optimizer starts afresh", dirname)
        if getattr(self, "shared_model", None) is not None and self.shared_model is not self.model:
            self.shared_model.copyparams(self.model)

    @staticmethod
    def _load_file(path, target, strict=True):
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            refuse_nonfinite(arrays, f"agent file {path}", AgentLoadError)
            serializers.NpzDeserializer(arrays, strict=strict).load(target)
        except READ_ERRORS + (TypeError,) as e:
            raise AgentLoadError(
                f"cannot load {path} into this agent (other game or corrupted file): {type(e).__name__}: {e}"
            ) from None


class SaliencyA3C(SaliencyMixin, A3C):
    """chainerrl's A3C (it learns) with saliency maps and checked save/load.

    Takes the arguments of :class:`chainerrl.agents.A3C`; the model must be
    an :class:`~recurrent_sim.models.agent_network.AgentNetwork`.
    """

    def __init__(self, model, optimizer, **kwargs):
        kwargs.setdefault("phi", scale_frames)
        super().__init__(model, optimizer, **kwargs)
        self.batch_states = self._batch_on_model_device


class ActingA3C(SaliencyMixin, A3C):
    """An A3C agent that only acts: it samples actions from its policy and
    never trains (``act_and_train`` acts, ``stop_episode_and_train`` only
    ends the episode). Used to gather samples for the simulator.

    Args:
        model: an :class:`~recurrent_sim.models.agent_network.AgentNetwork`.
        seed: seed of the agent's own random generator for action sampling.
        act_deterministically: take the most probable action instead.
    """

    # what chainerrl's train_agent_async shares between game processes (there is no optimizer)
    shared_attributes = ("shared_model",)

    def __init__(self, model, seed=0, act_deterministically=False):
        super().__init__(model, None, t_max=1, gamma=0.99, phi=scale_frames,
                         act_deterministically=act_deterministically)
        self.batch_states = self._batch_on_model_device
        self.model = self.shared_model  # never trained: one copy is enough
        self.random = np.random.RandomState(seed)

    def act(self, obs) -> int:
        """Action for one (n_frames, H, W) uint8 observation."""
        with chainer.no_backprop_mode(), chainer.using_config("train", False):
            pout, _ = self.model.pi_and_v(self.batch_states([obs], np, self.phi))
        probs = chainer.backends.cuda.to_cpu(pout.all_prob.array[0]).astype(np.float64)
        if self.act_deterministically:
            return int(probs.argmax())
        return int(self.random.choice(len(probs), p=probs / probs.sum()))

    def act_and_train(self, obs, reward) -> int:
        """Same as :meth:`act`: this agent does not learn."""
        return self.act(obs)

    def stop_episode_and_train(self, state, reward, done=False):
        """Nothing to learn; ends the episode."""
        self.stop_episode()

    def stop_episode(self):
        """Nothing to reset: the network is feed-forward."""
