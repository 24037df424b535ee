"""The play server over the network: only its own files, only loopback names, bad messages answered, never fatal."""
import asyncio
import http.client
import json
from urllib.parse import urlsplit

import aiohttp
import pytest


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
    ("bytes", b"\x00\xff", "JSON text"),
]


async def exercise(url):
    async with aiohttp.ClientSession() as client:
        async with client.ws_connect(url + "ws") as ws:
            hello = await receive(ws, "hello")
            assert hello["actions"] == ["NOOP", "UP", "DOWN", "LEFT", "RIGHT"] and hello["width"] == 32
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
