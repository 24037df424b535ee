"""``recurrent-sim play`` in a subprocess, for the tests that talk to it over the network."""
import os
import re
import select
import subprocess
import sys
import time

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
