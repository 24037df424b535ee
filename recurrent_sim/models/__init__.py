"""Neural networks: the simulator and its parts."""
from recurrent_sim.models.action_lstm import ActionLSTM  # NOQA
from recurrent_sim.models.config import SimulatorConfig  # NOQA
from recurrent_sim.models.decoder import FrameDecoder  # NOQA
from recurrent_sim.models.encoder import FrameEncoder  # NOQA
from recurrent_sim.models.simulator import Simulator  # NOQA
