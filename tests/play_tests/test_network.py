"""Which names reach the play server: the loopback names, ``--host`` and ``--allow-host``, on every address."""
import pytest

from recurrent_sim.play.http_guard import HostCheck, allowed_names, host_name, is_loopback, is_wildcard, split_host

from tests.helpers import BLOCKWORLD
from tests.play_tests.server_process import PlayProcess
from tests.play_tests.test_server import get


@pytest.mark.parametrize("text, name", [
    ("LocalHost", "localhost"), ("::1", "[::1]"), ("[::1]", "[::1]"), ("0:0::1", "[::1]"), ("10.0.0.7", "10.0.0.7"),
    ("Play.Example.", "play.example."), ("my-box", "my-box"), ("0.0.0.0", "0.0.0.0"),
])
def test_host_names_are_normalised(text, name):
    assert host_name(text) == name


@pytest.mark.parametrize("text", ["http://x", "a b", "x/y", "", "*", "-bad.example", "a..b", "[10.0.0.1"])
def test_what_is_not_a_host_name_is_refused(text):
    with pytest.raises(ValueError, match="not a host name or an IP address"):
        host_name(text)


def test_wildcards_and_loopback():
    assert is_wildcard("0.0.0.0") and is_wildcard("::") and is_wildcard("") and not is_wildcard("10.0.0.7")
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("LOCALHOST")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.7") and not is_loopback("play.example")


def test_the_allowed_names():
    loopback = ("127.0.0.1", "localhost", "[::1]")
    assert allowed_names("0.0.0.0") == loopback  # a wildcard is not a name: nothing added
    assert allowed_names("::", ["Box.lan", "::1"]) == loopback + ("box.lan",)
    assert allowed_names("10.0.0.7", ["box.lan"]) == loopback + ("10.0.0.7", "box.lan")
    check = HostCheck(allowed_names("0.0.0.0", ["box.lan"]), 8765)
    assert check.allows("box.lan:8765") and check.allows("BOX.lan") and check.allows("[::1]:8765")
    assert check.allows("127.0.0.1:8765") and check.allows("localhost")
    for netloc in ("box.lan:8766", "evil.example:8765", "box.lan.evil.example", "evil@box.lan", "", "0.0.0.0:8765",
                   "[::1", "box.lan:x"):
        assert not check.allows(netloc), netloc
    assert split_host("[::1]:80") == ("[::1]", 80) and split_host("a:b") == (None, None)


@pytest.fixture(scope="module")
def network_server(tmp_path_factory, untrained_checkpoint):
    """The play server listening on every interface, with one more name allowed."""
    server = PlayProcess(tmp_path_factory.mktemp("play"), "--loadtosim", untrained_checkpoint, "--env", BLOCKWORLD,
                         "--warmup", 4, "--host", "0.0.0.0", "--allow-host", "play.example")
    yield server
    server.stop()


def test_listening_on_a_network_warns_what_it_means(network_server):
    assert network_server.url.startswith("http://127.0.0.1:")  # the URL printed works in this machine's browser
    warning = network_server.stderr()
    assert "warning: listening on 0.0.0.0 (every network interface of this machine)" in warning
    assert "anyone on a network that reaches it can play and save GIFs" in warning
    assert "answers only to 127.0.0.1, localhost, [::1], play.example (--allow-host NAME adds" in warning


def test_on_every_interface_the_host_and_origin_are_still_checked(network_server):
    port = network_server.url.rstrip("/").rsplit(":", 1)[1]
    for allowed in ({}, {"Host": f"play.example:{port}"},
                    {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"},
                    {"Host": f"play.example:{port}", "Origin": f"http://play.example:{port}"}):
        assert get(network_server.url, "/", allowed)[0] == 200, allowed
    for refused in ({"Host": f"attacker.example:{port}"}, {"Origin": "http://attacker.example"},
                    {"Host": f"rebound.attacker.example:{port}", "Origin": f"http://rebound.attacker.example:{port}"},
                    {"Host": f"0.0.0.0:{port}"}, {"Origin": "null"}):
        status, _, body = get(network_server.url, "/", refused)
        assert status == 403 and body.startswith(b"forbidden: "), refused
    status, _, _ = get(network_server.url, "/ws", {"Origin": "http://attacker.example", "Upgrade": "websocket",
                                                   "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert status == 403
    assert "refused a request: requests from the page 'http://attacker.example' are not allowed" \
        in network_server.stderr()

