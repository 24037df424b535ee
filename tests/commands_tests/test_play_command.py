"""``recurrent-sim play`` from the command line: bad flags in one line, a warning for non-loopback addresses."""
import pytest

from tests.helpers import BLOCKWORLD
from tests.play_tests.server_process import PlayProcess


@pytest.mark.parametrize("flags, words", [
    (["--port", "70000"], "--port must be in 0..65535"),
    (["--warmup", "0"], "--warmup must be a positive integer"),
    (["--scale", "0"], "--scale must be in 1..64"),
    (["--fps", "0"], "--fps"),
    (["--host", "a b"], "--host: 'a b' is not a host name or an IP address"),
    (["--allow-host", "box.lan", "--allow-host", "http://box.lan"],
     "--allow-host: 'http://box.lan' is not a host name or an IP address"),
])
def test_bad_flags_fail_in_one_line(cli, untrained_checkpoint, flags, words):
    code, out, err = cli("play", "--loadtosim", untrained_checkpoint, *flags)
    assert code == 2 and words in err and len(err.strip().splitlines()) <= 2


def test_a_missing_simulator_fails_in_one_line(cli, tmp_path):
    code, _, err = cli("play", "--loadtosim", tmp_path / "nothing")
    assert code == 2 and "does not exist" in err


def test_an_unknown_pretrained_simulator_fails_in_one_line(cli):
    code, _, err = cli("play", "--pretrained", "pong")
    assert code == 2 and "no pretrained simulator 'pong'" in err


def test_needs_a_simulator(cli):
    code, _, err = cli("play")
    assert code == 2 and "--loadtosim" in err


def test_another_address_prints_a_warning(tmp_path, untrained_checkpoint):
    server = PlayProcess(tmp_path, "--loadtosim", untrained_checkpoint, "--env", BLOCKWORLD, "--host", "0.0.0.0")
    try:
        assert server.url.startswith("http://127.0.0.1:")  # every interface: the URL this machine's browser uses
        assert "warning: listening on 0.0.0.0" in server.stderr()
    finally:
        server.stop()

