"""The play server over the network: only its own files, only loopback names, bad messages and bad
requests answered, never fatal, a page that does not read dropped."""
import asyncio
import http.client
import json
import time
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.play_tests.server_process import closed_by_server, page_that_never_reads, raw_request


def get(url, path, headers=None):
    """(status, content type, body) of GET ``path`` sent exactly as written (no normalisation)."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("GET", path, skip_host=bool(headers and "Host" in headers))
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_listens_on_loopback_without_warning(play_server):
    assert play_server.url.startswith("http://127.0.0.1:") and "warning" not in play_server.stderr()


def test_serves_the_page_and_its_files(play_server):
    status, kind, body = get(play_server.url, "/")
    assert status == 200 and kind.startswith("text/html") and b'<script src="/static/play.js">' in body
    status, kind, body = get(play_server.url, "/static/play.js")
    assert status == 200 and kind.startswith("text/javascript") and b"WebSocket" in body
    assert get(play_server.url, "/static/play.css")[0] == 200
    for icon in ("/favicon.ico", "/static/favicon.svg"):
        status, kind, body = get(play_server.url, icon)
        assert status == 200 and kind == "image/svg+xml" and body.startswith(b"<svg")


def test_the_files_are_revalidated_on_each_load(play_server):
    address = urlsplit(play_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/static/play.js")
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Cache-Control") == "no-cache"
        tag = response.getheader("ETag")
        assert tag
        connection.request("GET", "/static/play.js", headers={"If-None-Match": tag})
        response = connection.getresponse()
        assert response.status == 304 and response.read() == b""
    finally:
        connection.close()


@pytest.mark.parametrize("path", [
    "/static/../../setup.py", "/static/..%2f..%2fsetup.py", "/static/%2e%2e/%2e%2e/setup.py", "/../setup.py",
    "/static/../server.py", "/static/..%2fserver.py", "/static/", "/static/missing.js", "/static/__init__.py",
    "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/etc/passwd", "/setup.py", "/recurrent_sim/play/server.py",
])
def test_nothing_else_is_served(play_server, path):
    status, _, body = get(play_server.url, path)
    assert status in (400, 403, 404), body
    assert b"import" not in body and b"root:" not in body


@pytest.mark.parametrize("headers", [
    {"Host": "attacker.example:80"},
    {"Origin": "http://attacker.example"},
])
def test_foreign_host_or_origin_is_refused(play_server, headers):
    assert get(play_server.url, "/", headers)[0] == 403


async def receive(ws, kind, timeout=20):
    """The next message of ``kind`` (others skipped)."""
    while True:
        message = await ws.receive(timeout=timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        data = json.loads(message.data)
        if data["type"] == kind:
            return data


BAD_MESSAGES = [
    ("text", "not json at all", "not valid JSON"),
    ("text", "[]", "JSON object"),
    ("text", '{"type": "fly"}', "unknown message type"),
    ("text", '{"type": "action", "action": 5}', "out of range"),
    ("text", '{"type": "action", "action": "UP"}', "must be an integer"),
    ("text", '{"type": "step", "action": -3}', "out of range"),
    ("text", '{"type": "branch", "step": 100000}', "out of range"),
    ("text", '{"type": "agent", "on": 1}', "true or false"),
    ("text", "[" * 2000, "nested too deeply"),
    ("text", '{"type": "action", "action": ' + "[" * 1500 + "]" * 1500 + "}", "nested too deeply"),
    ("text", '{"type": "action", "action": ' + "[" * 20 + "]" * 20 + "}", "must be an integer, got [[[...]]]"),
    ("text", '{"type": "pause", "padding": "' + "x" * 5000 + '"}', "longer than 4096 characters"),
    ("text", "x" * 200_000, "longer than 4096 characters"),
    ("bytes", b"\x00\xff", "JSON text"),
]


async def exercise(url):
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(url + "ws") as ws:
            hello = await receive(ws, "hello")
            assert hello["actions"] == ["NOOP", "UP", "DOWN", "LEFT", "RIGHT"] and hello["width"] == 32
            assert "large gray square" in hello["legend"] and "Space" not in hello["keys"]
            await ws.send_str('{"type": "pause"}')
            while not (await receive(ws, "frame"))["paused"]:
                pass
            for kind, message, words in BAD_MESSAGES:
                await (ws.send_str(message) if kind == "text" else ws.send_bytes(message))
                assert words in (await receive(ws, "error"))["message"]
            await ws.send_str('{"type": "step", "action": 2}')
            stepped = await receive(ws, "frame")
            assert stepped["action"] == 2 and stepped["divergence"] > 0
        # the page goes away in the middle of a game, without closing the socket properly
        ws = await client.ws_connect(url + "ws")
        await receive(ws, "frame")
        await ws.send_str('{"type": "resume"}')
        ws._response.connection.transport.abort()
        await asyncio.sleep(0.5)
        # a new page finds the game where it was, and a second one takes it over
        async with client.ws_connect(url + "ws") as first:
            frame = await receive(first, "frame")
            assert frame["step"] >= stepped["step"] and frame["episode"] == stepped["episode"]
            async with client.ws_connect(url + "ws") as second:
                await receive(second, "frame")
                assert "took over" in (await receive(first, "error"))["message"]
                await second.send_str('{"type": "save_gif"}')
                return (await receive(second, "saved"))["path"]


def test_bad_messages_and_lost_pages_do_not_stop_the_server(play_server):
    path = asyncio.run(exercise(play_server.url))
    assert play_server.running, play_server.stderr()
    with open(path, "rb") as f:
        assert f.read(6) == b"GIF89a"
    assert get(play_server.url, "/")[0] == 200
    assert "Traceback" not in play_server.stderr()


MALFORMED_REQUESTS = [
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: HOST\r\n\r\n",  # a URL over 8 KB
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET file:/// HTTP/1.1\r\nHost: HOST\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: HOST\r\nX-Long: " + b"b" * 9000 + b"\r\n\r\n",  # a header over 8 KB
]


def test_malformed_requests_get_400_and_one_quiet_line_each(play_server):
    before = len(play_server.stderr())
    host = urlsplit(play_server.url).netloc.encode()
    for request in MALFORMED_REQUESTS:
        assert raw_request(play_server.url, request.replace(b"HOST", host)).split()[1] == "400"
    assert get(play_server.url, "/")[0] == 200
    log = play_server.stderr()[before:]
    assert "Traceback" not in log and " ERROR " not in log, log
    assert len([line for line in log.splitlines() if "refused a malformed HTTP request from 127.0.0.1: 400" in line]) \
        == len(MALFORMED_REQUESTS), log


async def play_steps(url, steps):
    """Connect a page that pauses and plays ``steps`` steps; returns the last frame."""
    async with aiohttp.ClientSession() as client, client.ws_connect(url + "ws") as ws:
        await receive(ws, "hello")
        await ws.send_str('{"type": "pause"}')
        while not (await receive(ws, "frame"))["paused"]:
            pass
        for _ in range(steps):
            await ws.send_str('{"type": "step", "action": 1}')
            frame = await receive(ws, "frame")
        return frame


def test_a_page_that_never_reads_is_dropped_and_stops_no_one(play_server):
    asking = ['{"type": "pause"}'] * 5000  # each answered with a frame: megabytes, more than the buffers hold
    stalled = page_that_never_reads(play_server.url, asking)
    try:  # alone, it is answered until the server's buffers are full; then it is dropped
        assert closed_by_server(stalled, timeout=30), play_server.stderr()
    finally:
        stalled.close()
    assert "dropped a page: it took no message for 3 s" in play_server.stderr()
    stalled = page_that_never_reads(play_server.url, asking)
    try:
        time.sleep(1.0)  # the answers fill the buffers
        started = time.monotonic()
        frame = asyncio.run(asyncio.wait_for(play_steps(play_server.url, 5), 20))
        assert time.monotonic() - started < 10 and frame["action"] == 1
        assert closed_by_server(stalled, timeout=10)
    finally:
        stalled.close()
    assert play_server.running and "Traceback" not in play_server.stderr()
