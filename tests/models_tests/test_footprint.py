"""Parameter counts from settings equal those of built networks; estimates grow as they should."""
import numpy as np
import pytest

from recurrent_sim.models import Simulator, SimulatorConfig
from recurrent_sim.models.agent_network import AgentNetwork
from recurrent_sim.models.footprint import (
    agent_parameter_count,
    sample_buffer_bytes,
    simulator_bytes,
    simulator_parameter_count,
)
from recurrent_sim.data import SampleBuffer


@pytest.mark.parametrize("config", [
    SimulatorConfig((32, 32), 5, 8, encoding_size=16),
    SimulatorConfig((84, 84), 4, 64),
    SimulatorConfig((40, 57), 3, 16, factor_size=10, encoding_size=7),
])
def test_simulator_parameter_count_is_exact(config):
    assert simulator_parameter_count(config) == sum(p.size for p in Simulator(config).params())


@pytest.mark.parametrize("architecture", ["paper", "original", "skip"])
def test_parameter_count_of_every_architecture(architecture):
    from recurrent_sim.models import build_simulator, simulator_config

    config = simulator_config(architecture, frame_shape=(40, 40), n_actions=4, hidden_size=32)
    actual = sum(p.size for p in build_simulator(config).params())
    assert abs(simulator_parameter_count(config) - actual) <= actual / 1000


@pytest.mark.parametrize("obs_shape, n_actions", [((4, 84, 84), 4), ((2, 32, 40), 5)])
def test_agent_parameter_count_is_exact(obs_shape, n_actions):
    network = AgentNetwork(n_actions, obs_shape)
    assert agent_parameter_count(obs_shape, n_actions) == sum(p.size for p in network.params())


def test_estimates_of_absurd_sizes_are_huge_and_of_defaults_modest():
    default = simulator_bytes(SimulatorConfig((84, 84), 4, 1024), "adam", 16, 35)
    assert 2**29 < default < 2**32  # between 0.5 and 4 GiB
    assert simulator_bytes(SimulatorConfig((84, 84), 4, 15000), "adam", 16, 35) > 30 * 2**30
    assert simulator_bytes(SimulatorConfig((84, 84), 4, 10 ** 7), "adam", 1, 1) > 2**50
    inference = simulator_bytes(SimulatorConfig((84, 84), 4, 1024))
    assert inference < default / 4


def test_sample_buffer_bytes_is_what_the_buffer_allocates():
    assert sample_buffer_bytes(100, (32, 24)) == SampleBuffer(100, (32, 24)).nbytes
    assert isinstance(np.int64(sample_buffer_bytes(10, (2, 2))), np.integer)
