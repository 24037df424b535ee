"""Networks: the simulator architectures and their registry, the agent's network."""
from recurrent_sim.models.action_lstm import ActionLSTM  # NOQA
from recurrent_sim.models.config import (  # NOQA
    ARCHITECTURE,
    ARCHITECTURE_OPTIONS,
    ENCODING_SIZE,
    HEADS,
    HEAD_INPUT,
    HIDDEN_SIZE,
    PAPER_ARCHITECTURE,
    SimulatorConfig,
)
from recurrent_sim.models.decoder import FrameDecoder  # NOQA
from recurrent_sim.models.encoder import FrameEncoder  # NOQA
from recurrent_sim.models.heads import HEAD_INPUTS, REWARD_CLASSES, HeadOutputs, StateHeads, class_rewards, reward_classes  # NOQA
from recurrent_sim.models.independent_simulator import INDEPENDENT_ARCHITECTURE, IndependentSimulator  # NOQA
from recurrent_sim.models.registry import (  # NOQA
    architecture_names,
    build_simulator,
    frame_settings,
    register_architecture,
    simulator_config,
)
from recurrent_sim.models.simulator import Simulator  # NOQA
from recurrent_sim.models.simulator_base import SimulatorBase  # NOQA
