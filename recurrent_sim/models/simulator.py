"""The paper's recurrent environment simulator: encoder -> action LSTM -> decoder.

Registered as the architecture ``"paper"``; the interface and pixel
convention are those of :class:`recurrent_sim.models.simulator_base.SimulatorBase`.
"""
from recurrent_sim.models.action_lstm import ActionLSTM
from recurrent_sim.models.config import SimulatorConfig
from recurrent_sim.models.decoder import FrameDecoder
from recurrent_sim.models.encoder import FrameEncoder
from recurrent_sim.models.simulator_base import SimulatorBase


class Simulator(SimulatorBase):
    """Convolutional encoder, action-conditioned LSTM and deconvolutional decoder (Chiappa et al., 2017).

    The layer sizes are those of ``config`` (see :class:`SimulatorConfig`).
    """

    def __init__(self, config: SimulatorConfig):
        super().__init__(config)
        with self.init_scope():
            self.encoder = FrameEncoder(config)
            self.transition_lstm = ActionLSTM(
                config.encoding_size, config.hidden_size, config.n_actions, config.factor_size
            )
            self.decoder = FrameDecoder(config)

    # ----- functional steps ------------------------------------------------
    def initial_state(self, batch_size):
        """Zero recurrent state ``(c, h)`` for ``batch_size`` games."""
        return self.transition_lstm.initial_state(batch_size)

    def encode(self, frames):
        """(batch, 1, H, W) normalised frames -> (batch, encoding_size)."""
        return self.encoder(frames)

    def transition(self, encoding, actions, state):
        """(batch, encoding_size), (batch,) int32, state -> (h, new state)."""
        return self.transition_lstm(encoding, actions, state)

    def decode(self, hidden):
        """(batch, hidden_size) -> (batch, 1, H, W) normalised frames."""
        return self.decoder(hidden)
