"""``recurrent-sim play`` in a subprocess, for the tests that talk to it over the network."""
import base64
import os
import re
import select
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from tests.helpers import REPO, python_env

STARTUP_SECONDS = 60


class PlayProcess:
    """``recurrent-sim play ARGS --port 0`` running; ``url`` is where it serves."""

    def __init__(self, folder, *argv):
        self.stderr_path = os.path.join(folder, "play.stderr")
        self.out = os.path.join(folder, "gifs")
        command = [sys.executable, "-m", "recurrent_sim", "play", *map(str, argv), "--port", "0", "--out", self.out]
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, cwd=REPO, env=python_env(), stdout=subprocess.PIPE,
                                            stderr=stderr, text=True)
        self.url = self._wait_for_url()

    def _wait_for_url(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                match = re.search(r"at (http://\S+) ", self.process.stdout.readline())
                if match:
                    return match.group(1)
        self.stop()
        raise AssertionError(f"recurrent-sim play did not start: {self.stderr()}")

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    @property
    def running(self):
        return self.process.poll() is None

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()


def raw_request(url, request, timeout=10):
    """Send the bytes ``request`` as they are to the server at ``url``; returns the answer's status line."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n")[0].decode("latin-1")


def page_that_never_reads(url, commands, receive_buffer=2048):
    """A websocket client that connects to ``url``'s ``/ws``, sends ``commands`` (short texts) and never
    reads: a socket with a ``receive_buffer``-byte receive buffer, whose window soon closes.
    Returns the socket (close it when done)."""
    address = urlsplit(url)
    connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    connection.connect((address.hostname, address.port))
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    connection.sendall((f"GET /ws HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                       .encode("ascii"))
    for command in commands:
        payload = command.encode("utf-8")
        assert len(payload) < 126, "short messages only"
        mask = os.urandom(4)
        connection.sendall(bytes([0x81, 0x80 | len(payload)]) + mask
                           + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload)))
    return connection


def closed_by_server(connection, timeout) -> bool:
    """Whether the server ends ``connection`` within ``timeout`` seconds, found without reading from it
    (Linux's poll flags: a reset or a hang-up)."""
    poller = select.poll()
    poller.register(connection, select.POLLIN | select.POLLRDHUP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(events & (select.POLLHUP | select.POLLERR | select.POLLRDHUP) for _, events in poller.poll(0)):
            return True
        time.sleep(0.05)
    return False
