"""The web app as a user starts it (``tools/app.py`` in its own process) on 127.0.0.1, for
tests/test_app.py and tests/test_app_browser.py; and the small weights they serve."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT, tiny_overrides
from ppugatit import checkpoint
from ppugatit.config import build_config, save_config
from ppugatit.models import MODELS

TOOL = os.path.join(ROOT, "tools", "app.py")


def tiny_weights(folder) -> str:
    """An initialised 64 px light U-GAT-IT, as a run writes it (weights + config.yaml)."""
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"),
                       {**tiny_overrides(folder), "model.img_size": 64})
    model = MODELS[cfg.model.name](cfg)
    checkpoint.save(model.weights(), str(folder / "weights.pdparams"))
    save_config(cfg, str(folder / "config.yaml"))
    return str(folder / "weights.pdparams")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``python tools/app.py --weights W`` with its working folder, TMPDIR and HOME under
    ``folder`` (so a test can see that it wrote nothing anywhere else)."""

    def __init__(self, folder, weights: str, *args: str):
        self.cwd, self.tmp, self.home = folder / "cwd", folder / "tmp", folder / "home"
        for d in (self.cwd, self.tmp, self.home):
            d.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "TMPDIR": str(self.tmp), "HOME": str(self.home),
               "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
        env.pop("GRADIO_TEMP_DIR", None)
        self.log = open(folder / "app.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, TOOL, "--weights", weights, "--port", str(self.port),
             "--device", "cpu", *args], cwd=self.cwd, env=env, stdout=self.log,
            stderr=subprocess.STDOUT)
        self.wait_until_serving()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def wait_until_serving(self, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited ({self.proc.returncode}):\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the app did not serve within {timeout} s:\n{self.output()}")

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the return code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode
