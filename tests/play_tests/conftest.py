"""Fixtures of the play tests: a ``recurrent-sim play`` server in a subprocess."""
import pytest

from tests.helpers import BLOCKWORLD
from tests.play_tests.server_process import PlayProcess


@pytest.fixture(scope="module")
def play_server(tmp_path_factory, untrained_checkpoint):
    """The play server on a BlockWorld simulator, for the tests of one module."""
    server = PlayProcess(tmp_path_factory.mktemp("play"), "--loadtosim", untrained_checkpoint, "--env", BLOCKWORLD,
                         "--warmup", 4)
    yield server
    server.stop()
