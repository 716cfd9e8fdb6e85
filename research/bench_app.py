"""Cold start and per-image latency of the web app on this machine (docs/inference.md).

    python research/bench_app.py                      # U-GAT-IT light at 256 px, initialised
    python research/bench_app.py --weights W [-c CONFIG] --requests 10

Cold start: from running ``tools/app.py`` to its first page served, then the first request
(which also warms the network up). Per image: a request through gradio_client, end to end (the
upload, reading, face detection and crop, the translation, the PNGs, the download), for a
1600x1200 photo of a face with the face crop on and off; then the parts in this process: face
detection and the network's forward pass.
"""
import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

import numpy as np

from ppugatit.cli import run


def photo() -> np.ndarray:
    """scikit-image's astronaut (public domain, inside its wheel) as a 1600x1200 phone photo."""
    import cv2
    from skimage import data

    frame = np.full((1200, 1600, 3), 200, np.uint8)
    frame[100:1100, 300:1300] = cv2.resize(data.astronaut(), (1000, 1000))
    return frame


def initialised_weights(config: str, overrides: list[str], folder: str) -> str:
    from ppugatit import checkpoint
    from ppugatit.config import build_config, save_config
    from ppugatit.models.table import MODELS

    cfg = build_config(config, overrides)
    checkpoint.save(MODELS[cfg.model.name](cfg).weights(), os.path.join(folder, "weights.pdparams"))
    save_config(cfg, os.path.join(folder, "config.yaml"))
    return os.path.join(folder, "weights.pdparams")


def timed(fn) -> float:
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def main(args, tmp: str) -> dict:
    import logging

    from gradio_client import Client, handle_file

    from ppugatit.app.process import AppProcess
    from timing import machine
    from ppugatit.data.image_io import write_image

    logging.getLogger("httpx").setLevel(logging.WARNING)
    weights = args.weights or initialised_weights(args.config or LIGHT, args.override, tmp)
    extra = (["-c", args.config] if args.weights and args.config else []) + (
        ["-o", *args.override] if args.weights and args.override else [])
    image = os.path.join(tmp, "photo.jpg")
    write_image(image, photo())
    report = {"machine": machine(), "load_before": os.getloadavg()[0],
              "weights": args.weights or f"{args.config or LIGHT}, initialised",
              "cold_start_s": [], "first_request_s": []}
    for k in range(args.starts):
        log = open(os.path.join(tmp, "app.log"), "w+")
        app = AppProcess(weights, "--device", "cpu", *extra, log=log)
        try:
            try:
                report["cold_start_s"].append(app.wait_until_serving())
            except RuntimeError as e:
                log.seek(0)
                raise SystemExit(f"error: {e}:\n{log.read()[-2000:]}") from None
            client = Client(app.url, verbose=False, download_files=os.path.join(tmp, "dl"),
                            analytics_enabled=False)

            def request(face: bool):
                return client.predict([handle_file(image)], None, "A2B", face, False, False,
                                      api_name="/translate")
            report["first_request_s"].append(timed(lambda: request(True)))
            print(f"start {k + 1}/{args.starts}: served in {report['cold_start_s'][-1]:.2f} s, "
                  f"first request {report['first_request_s'][-1]:.2f} s", flush=True)
            if k == args.starts - 1:
                for face in (True, False):
                    times = [timed(lambda: request(face)) for _ in range(args.requests)]
                    report[f"request_face_{'on' if face else 'off'}_s"] = times
        finally:
            app.stop()
            log.close()

    from ppugatit.app.engine import Engine
    from ppugatit.face import detect_faces
    engine = Engine(weights, args.config if args.weights else None,
                    args.override if args.weights else (), "cpu")
    picture = photo()
    detect_faces(picture)
    report["detect_faces_s"] = [timed(lambda: detect_faces(picture)) for _ in range(args.requests)]
    face = picture[100:1100, 300:1300]
    engine.translate(face, engine.directions[0])
    report["forward_s"] = [timed(lambda: engine.translate(face, engine.directions[0]))
                           for _ in range(args.requests)]
    report["img_size"] = engine.img_size
    report["load_after"] = os.getloadavg()[0]
    return report


def summary(report: dict) -> str:
    med = {k: statistics.median(v) for k, v in report.items() if k.endswith("_s")}
    lines = [f"machine: {report['machine']}; load average {report['load_before']:.1f} before, "
             f"{report['load_after']:.1f} after",
             f"model: {report['weights']} at {report['img_size']} px, CPU",
             f"cold start (command to page served), median of {len(report['cold_start_s'])}: "
             f"{med['cold_start_s']:.2f} s; first request {med['first_request_s']:.2f} s"]
    for key, what in (("request_face_on_s", "request, face crop on"),
                      ("request_face_off_s", "request, face crop off"),
                      ("detect_faces_s", "  of which face detection"),
                      ("forward_s", f"  of which the network (one {report['img_size']} px "
                                    f"picture)")):
        values = report[key]
        lines.append(f"{what}: median {med[key]:.3f} s (min {min(values):.3f}, "
                     f"max {max(values):.3f}, n={len(values)})")
    return "\n".join(lines)


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
LIGHT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                     "ugatit_light.yaml")
parser.add_argument("-c", "--config", help="the model to initialise (default "
                    "configs/ugatit_light.yaml), or --weights' config")
parser.add_argument("--weights", help="serve these weights instead of initialised ones")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE")
parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
parser.add_argument("--requests", type=int, default=10, help="timed requests of each kind")
parser.add_argument("--json", help="also write the raw times here")


def _main() -> None:
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_app_")
    try:
        report = main(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(summary(report))
    if args.json:
        from ppugatit.utils import atomic_write_text
        atomic_write_text(args.json, json.dumps(report, indent=1))


run(_main)
