"""Export a generator for Paddle Inference or ONNX Runtime (deploy/python/infer.py runs both).

    python tools/export_model.py --weights output/demo/weights.pdparams \
        --output output/demo/inference
    python tools/export_model.py -c configs/ugatit_light.yaml --weights params_latest.pt \
        --direction B2A --with-heatmap --output inference_B2A
    python tools/export_model.py --weights output/demo/weights.pdparams --format onnx \
        --output output/demo/inference
    python tools/export_model.py --weights output/demo/weights.pdparams --precision int8 \
        --output output/demo/inference
    python tools/export_model.py --weights output/demo/weights.pdparams --format fp16 \
        --output shared/

--format paddle writes inference.json (or .pdmodel on older Paddle), inference.pdiparams and
inference.yml; onnx writes inference.onnx (translation models); fp16 writes
weights_fp16.pdparams (float16 storage, half the size) and config.yaml, if the translation
stays within 1/255. The batch size is free, the picture size fixed at model.img_size.

--precision int8|bf16|fp16 writes the float32 form and a reduced one beside it (int8:
inference_int8.onnx, calibrated on --calibrate, default the run's test pictures; bf16: the
Paddle program, run with oneDNN bfloat16; fp16: inference_fp16.onnx, for GPUs), only if it
passes the quality gate on held-apart pictures (docs/inference.md); deploy runs the fastest.
Generation models export their sampler (noise in).
"""
import argparse

from ppugatit.cli import run
from ppugatit.export.commands import export_from_weights
from ppugatit.run_dir import check_writable

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", help="the run's config (default: config.yaml beside "
                    "--weights; for a .pt, the sizes are read off the file)")
parser.add_argument("--weights", required=True, help="weights.pdparams, a .pdckpt or an "
                    "official .pt")
parser.add_argument("--output", required=True, help="folder for the exported model")
parser.add_argument("--direction", help="A2B (default) or B2A")
parser.add_argument("--with-heatmap", "--with_heatmap", action="store_true",
                    help="a second output: the CAM heatmap")
parser.add_argument("--format", choices=["paddle", "onnx", "fp16"], default="paddle",
                    help="paddle: Paddle Inference (default); onnx: inference.onnx for ONNX "
                    "Runtime; fp16: a half-size float16-storage weights file for sharing")
parser.add_argument("--precision", choices=["fp32", "int8", "bf16", "fp16"], default="fp32",
                    help="a reduced-precision form beside the float32 one, behind the quality "
                    "gate (int8: ONNX Runtime, calibrated; bf16: Paddle Inference oneDNN on "
                    "avx512_bf16/AMX CPUs; fp16: for GPUs)")
parser.add_argument("--calibrate", metavar="DIR", help="int8 calibration and gate pictures "
                    "(default: the run's test pictures of the source domain); the first half "
                    "calibrates, the rest is held apart for the gate")
parser.add_argument("--calibrate-count", type=int, help="how many of them calibrate (default: "
                    "half, at most 64)")
parser.add_argument("--no-check", action="store_true", help="skip comparing the exported "
                    "model with the dygraph one on two random inputs")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. model.img_size=128")
args = parser.parse_args()
run(lambda: check_writable(args.output, "--output") or print(export_from_weights(
    args.weights, args.output, args.config, args.override, args.direction, args.with_heatmap,
    not args.no_check, args.format, args.precision, args.calibrate, args.calibrate_count)))
