"""The web app as an AI Studio app (应用, Gradio): point the app at this file.

The weights: PPUGATIT_WEIGHTS (a weights.pdparams with its config.yaml beside it, an official
.pt with PPUGATIT_CONFIG, or an exported model's folder); default output/demo/weights.pdparams,
what `python tools/train.py -c configs/demo.yaml` writes. Serves on GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT (default 0.0.0.0:8080). ``demo`` is the page, for `gradio app.gradio.py`.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
from ppugatit.app.engine import Engine
from ppugatit.app.ui import build_app, launch

WEIGHTS = os.environ.get("PPUGATIT_WEIGHTS") or os.path.join(HERE, "output", "demo",
                                                              "weights.pdparams")
if not os.path.exists(WEIGHTS):
    sys.exit(f"error: {WEIGHTS} not found; set PPUGATIT_WEIGHTS to the weights to serve "
             f"(see README, 'The web app')")
ENGINE = Engine(WEIGHTS, os.environ.get("PPUGATIT_CONFIG") or None)
demo = build_app(ENGINE)

if __name__ == "__main__":
    with ENGINE.runtime:  # the device, threads and allocator for the server's life
        launch(demo, os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
               int(os.environ.get("GRADIO_SERVER_PORT", 8080)))
