"""The web app as a user starts it (``tools/app.py`` in its own process) on 127.0.0.1, for
tests/test_app.py and tests/test_app_browser.py; and the small weights they serve."""
import os

from conftest import ROOT, tiny_overrides
from ppugatit import checkpoint
from ppugatit.app.process import AppProcess
from ppugatit.config import build_config, save_config
from ppugatit.models.table import MODELS


def tiny_weights(folder) -> str:
    """An initialised 64 px light U-GAT-IT, as a run writes it (weights + config.yaml)."""
    cfg = build_config(os.path.join(ROOT, "configs", "demo.yaml"),
                       {**tiny_overrides(folder), "model.img_size": 64})
    model = MODELS[cfg.model.name](cfg)
    checkpoint.save(model.weights(), str(folder / "weights.pdparams"))
    save_config(cfg, str(folder / "config.yaml"))
    return str(folder / "weights.pdparams")


class AppServer(AppProcess):
    """The app with its working folder, TMPDIR and HOME under ``folder`` (so a test can see
    that it wrote nothing anywhere else), serving when constructed."""

    def __init__(self, folder, weights: str, *args: str):
        self.cwd, self.tmp, self.home = folder / "cwd", folder / "tmp", folder / "home"
        for d in (self.cwd, self.tmp, self.home):
            d.mkdir(parents=True)
        env = {**os.environ, "TMPDIR": str(self.tmp), "HOME": str(self.home),
               "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
        env.pop("GRADIO_TEMP_DIR", None)
        self.log_path = folder / "app.log"
        self.log_file = open(self.log_path, "w")
        super().__init__(weights, "--device", "cpu", *args, log=self.log_file, cwd=self.cwd,
                         env=env)
        try:
            self.wait_until_serving()
        except RuntimeError as e:
            raise RuntimeError(f"{e}:\n{self.output()}") from None

    def output(self) -> str:
        if not self.log_file.closed:
            self.log_file.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        code = super().stop()
        self.log_file.close()
        return code
