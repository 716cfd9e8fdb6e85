"""Starting ``tools/app.py`` in its own process and waiting for its page, for the tests and
research/bench_app.py (both time or drive the app as a user starts it)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "tools", "app.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppProcess:
    """``python tools/app.py --weights W --port P ARGS`` on 127.0.0.1; output to ``log``."""

    def __init__(self, weights: str, *args: str, log=None, cwd: str | None = None,
                 env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, TOOL, "--weights", weights, "--port", str(self.port), *args],
            cwd=cwd, env=env, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def wait_until_serving(self, timeout: float = 120.0) -> float:
        """Seconds from the start of the process to the first page served."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with status {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the app did not serve {self.url} within {timeout} s")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
