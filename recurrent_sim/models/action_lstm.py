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

Without backprop (``chainer.no_backprop_mode``: inference, warm-ups, the
simulated games) a step runs on the arrays directly, the same operations in
the same order as the graph-building step (so the same values; split over
threads, the same up to float rounding) without building function nodes:
the cost of a step of many games is then its two or three matrix products.
With backprop (training) the large products of a step are split over the
worker threads too (:mod:`recurrent_sim.models.split_linear`).
"""
import chainer
import chainer.functions as F
import chainer.links as L
import numpy as np
from chainer import initializers

from recurrent_sim.models.split_linear import SPLIT_MIN_SIZE, column_blocks, split_linear
from recurrent_sim.utils.cpu_pool import map_chunks, worker_count


def _sigmoid(x):
    """Chainer's LSTM sigmoid, ``tanh(x / 2) / 2 + 1 / 2``, in place on ``x``."""
    half = x.dtype.type(0.5)
    x *= half
    xp = chainer.backend.get_array_module(x)
    xp.tanh(x, out=x)
    x *= half
    x += half
    return x


def lstm_arrays(c, gates):
    """``F.lstm(c, gates)`` on arrays, without a graph: (c (B, H), gates (B, 4H)) -> (c_new, h_new).

    ``gates`` is overwritten. Same formulas and gate order as Chainer's
    (cell input, input, forget, output gates interleaved by four).
    """
    xp = chainer.backend.get_array_module(gates)
    split = gates.reshape(len(gates), gates.shape[1] // 4, 4)
    a = xp.tanh(split[:, :, 0])
    i, f, o = (_sigmoid(split[:, :, k]) for k in (1, 2, 3))
    c_new = a * i + f * c
    return c_new, o * xp.tanh(c_new)


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
        if not chainer.config.enable_backprop:
            return self._step_arrays(encoding, actions, state)
        c, h = state
        factors = split_linear(self.hidden_factor, h) * self.action_factor(actions)
        gates = split_linear(self.factor_to_gates, factors)
        if encoding is not None:
            gates = gates + split_linear(self.encoding_to_gates, encoding)
        c_new, h_new = F.lstm(c, gates)
        return h_new, (c_new, h_new)

    def _step_arrays(self, encoding, actions, state):
        """:meth:`forward` on arrays (no backprop); outputs wrapped in Variables without a graph.

        On the CPU with several worker threads (:mod:`recurrent_sim.utils.cpu_pool`)
        and enough work, the products are split by output columns over the
        threads: first the factors, then the gates and cells of groups of units.
        """
        c, h = (chainer.as_array(v) for v in state)
        actions = chainer.as_array(actions)
        encoding = None if encoding is None else chainer.as_array(encoding)
        hidden_factor, to_gates = self.hidden_factor, self.factor_to_gates
        factor_size = hidden_factor.W.shape[0]
        xp = self.xp
        parts = 1
        if xp is np and len(h) * factor_size * 4 * self.hidden_size >= SPLIT_MIN_SIZE:  # the gate product
            parts = 2 * worker_count() if worker_count() > 1 else 1
        factor_blocks, unit_blocks = column_blocks(factor_size, parts), column_blocks(self.hidden_size, parts)
        factors = xp.empty((len(h), factor_size), dtype=h.dtype)
        action_rows = self.action_factor.W.array[actions]

        def factor_columns(i):
            lo, hi = factor_blocks[i]
            out = factors[:, lo:hi]
            out[...] = h.dot(hidden_factor.W.array[lo:hi].T)
            out += hidden_factor.b.array[lo:hi]
            out *= action_rows[:, lo:hi]

        c_new, h_new = xp.empty_like(c), xp.empty_like(h)

        def units(i):
            lo, hi = unit_blocks[i]
            gates = factors.dot(to_gates.W.array[4 * lo : 4 * hi].T)
            if to_gates.b is not None:
                gates += to_gates.b.array[4 * lo : 4 * hi]
            if encoding is not None:
                encoded = encoding.dot(self.encoding_to_gates.W.array[4 * lo : 4 * hi].T)
                encoded += self.encoding_to_gates.b.array[4 * lo : 4 * hi]
                gates += encoded
            c_new[:, lo:hi], h_new[:, lo:hi] = lstm_arrays(c[:, lo:hi], gates)

        map_chunks(factor_columns, parts)
        map_chunks(units, parts)
        c_new, h_new = (chainer.Variable(v, requires_grad=False) for v in (c_new, h_new))
        return h_new, (c_new, h_new)
