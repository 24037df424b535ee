"""The paper's prediction-independent simulator: after the warm-up, the state advances from actions alone.

Chiappa et al. (2017), section "prediction-independent simulators": during
the warm-up the state takes the real frames, ``s_t = f(s_{t-1}, a_{t-1},
x_{t-1})``; afterwards it takes the actions alone, ``s_t = f(s_{t-1},
a_{t-1})``, so no frame is decoded and re-encoded between steps, and a
frame is decoded only when one is wanted. Long rollouts (planning, many
games at once) then cost one small LSTM step per game step.

Here the two transitions are two action-conditioned LSTMs on the same
``(c, h)`` state: the paper's, whose gates read ``v_t`` and the encoded
frame (:meth:`transition`, used on real frames: the warm-up, the
observation-dependent steps of training, re-synchronisation), and one whose
gates read ``v_t`` alone (:meth:`advance`). Encoder and decoder are the
paper's: the network is :class:`~recurrent_sim.models.simulator.Simulator`
plus the action-only LSTM. :meth:`predict` (frame in, frame out) is the
frame-conditioned step, so code written for any architecture runs; code that knows
:attr:`prediction_independent` (``RolloutBatch``, evaluation, the demo,
the loss ``independent_mse``) steps with :meth:`advance` after the warm-up.

Registered as the architecture ``"independent"``.
"""
from recurrent_sim.models.action_lstm import ActionLSTM
from recurrent_sim.models.config import SimulatorConfig
from recurrent_sim.models.simulator import Simulator

INDEPENDENT_ARCHITECTURE = "independent"


class IndependentSimulator(Simulator):
    """The paper's network (encoder, frame-conditioned LSTM, decoder) plus an action-only LSTM on the same state.

    The layer sizes are those of ``config`` (see :class:`SimulatorConfig`);
    the state is ``(c, h)``, each (batch, hidden_size) float32, and the
    decoder reads ``h``. :meth:`transition` (inherited) is the
    frame-conditioned step, :meth:`advance` the action-only one.
    """

    prediction_independent = True

    def __init__(self, config: SimulatorConfig):
        super().__init__(config)
        with self.init_scope():
            self.action_lstm = ActionLSTM(None, config.hidden_size, config.n_actions, config.factor_size)

    def advance(self, actions, state):
        """Action-only step: (batch,) int32 actions, state -> (h, new state); nothing encoded or decoded."""
        return self.action_lstm(None, actions, state)
