"""Serve the web app: translate uploaded photos (or sample, for SAGAN) in the browser.

    python tools/app.py --weights output/demo/weights.pdparams
    python tools/app.py -c configs/ugatit_light.yaml --weights selfie2anime.pt \
        -o model.img_size=256 --host 0.0.0.0 --port 8080

--weights: weights.pdparams of a run (its config.yaml found beside it), a training .pdckpt,
an official .pt, a folder written by tools/export_model.py or its .onnx file. Open the printed address.
"""
import argparse
import os

from ppugatit.cli import run


def main(args) -> None:
    from ppugatit.app.engine import Engine
    from ppugatit.app.ui import build_app, launch

    engine = Engine(args.weights, args.config, args.override, args.device)
    print(f"loaded {engine.describe()}", flush=True)
    with engine.runtime:  # the device, threads and allocator for the server's life
        launch(build_app(engine), args.host, args.port)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", help="the run's config (default: config.yaml beside "
                    "--weights; for a .pt, the sizes are read off the file)")
parser.add_argument("--weights", required=True, help="weights.pdparams, a .pdckpt, an official "
                    ".pt, an exported model's folder or its .onnx file")
parser.add_argument("--device", choices=["cpu", "gpu"], help="default: gpu if Paddle has one")
parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="address to serve on (0.0.0.0: every interface); default 127.0.0.1")
parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)))
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. model.img_size=256 for a light .pt")
run(lambda: main(parser.parse_args()))
