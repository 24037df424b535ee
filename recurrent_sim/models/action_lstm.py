"""Action-conditioned LSTM transition of the simulator (Chiappa et al. 2017).

The previous hidden state is combined multiplicatively with the action,
``v_t = (W_h h_{t-1} + b_h) * (W_a a_{t-1})``, and the LSTM gates read ``v_t``
and the encoded frame ``z_t``. The bias ``b_h`` (initialised to one) keeps the
action effective on the first step after a reset, when ``h`` is zero.
The recurrent state is passed explicitly: ``(c, h)``, both
(batch, hidden_size) float32.

With ``in_size=None`` the gates read ``v_t`` alone (plus a bias): the
action-only transition ``s_t = f(s_{t-1}, a_{t-1})`` of the paper's
prediction-independent simulator.
"""
import chainer
import chainer.functions as F
import chainer.links as L
from chainer import initializers


class ActionLSTM(chainer.Chain):
    """One step: ``(z, actions, (c, h)) -> (h_new, (c_new, h_new))``.

    Args:
        in_size: size of the frame encoding ``z``; None for no frame input.
        hidden_size: LSTM units.
        n_actions: number of discrete actions.
        factor_size: size of the multiplicative interaction ``v``.
    """

    def __init__(self, in_size, hidden_size, n_actions, factor_size):
        super().__init__()
        self.hidden_size = hidden_size
        with self.init_scope():
            self.hidden_factor = L.Linear(
                hidden_size, factor_size, initial_bias=initializers.One()
            )
            self.action_factor = L.EmbedID(n_actions, factor_size)
            self.factor_to_gates = L.Linear(factor_size, 4 * hidden_size, nobias=in_size is not None)
            if in_size is not None:
                self.encoding_to_gates = L.Linear(in_size, 4 * hidden_size)

    def initial_state(self, batch_size):
        """Zero state ``(c, h)``, each (batch_size, hidden_size) float32."""
        zeros = self.xp.zeros((batch_size, self.hidden_size), dtype="f")
        return zeros, zeros.copy()

    def forward(self, encoding, actions, state):
        """Advance the state by one step.

        Args:
            encoding: (batch, in_size) float32 encoded input frame ``z_t``;
                None when built with ``in_size=None``.
            actions: (batch,) int32 action taken on that frame.
            state: ``(c, h)`` from the previous step or :meth:`initial_state`.
        Returns:
            ``(h, (c, h))`` with h (batch, hidden_size).
        """
        c, h = state
        factors = self.hidden_factor(h) * self.action_factor(actions)
        gates = self.factor_to_gates(factors)
        if encoding is not None:
            gates = gates + self.encoding_to_gates(encoding)
        c_new, h_new = F.lstm(c, gates)
        return h_new, (c_new, h_new)
