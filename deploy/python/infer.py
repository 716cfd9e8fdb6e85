"""Translate pictures with an exported model: Paddle Inference or ONNX Runtime (no training code).

    python deploy/python/infer.py --model_dir output/demo/inference --input data/demo/testA \
        --output out/deploy
    python deploy/python/infer.py --model_dir output/demo/inference/inference.onnx \
        --input data/demo/testA --output out/deploy

Inputs and outputs as tools/infer.py (an image, a video, a folder or a glob; the same file
names). Where the folder holds reduced-precision forms (tools/export_model.py --precision),
the fastest that passed its quality gate runs; --precision forces one.
Generation models sample instead: --num N --seed S.
"""
import argparse

from ppugatit import face
from ppugatit.cli import run
from ppugatit.export.commands import infer_exported


def str2bool(value: str) -> bool:
    if value.lower() in ("true", "1", "yes", "on"):
        return True
    if value.lower() in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got '{value}'")


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_dir", "--model-dir", required=True,
                    help="folder written by tools/export_model.py, or an .onnx file")
parser.add_argument("--runtime", choices=["auto", "paddle", "onnxruntime"], default="auto",
                    help="auto: the form the folder has; ONNX Runtime where it has both and "
                    "onnxruntime is installed (faster on CPU, see docs/benchmarks.md)")
parser.add_argument("--precision", choices=["auto", "fp32", "int8", "bf16", "fp16"],
                    default="auto", help="auto: among the forms in the folder that passed "
                    "their quality gate, the fastest on this machine (timed once, cached in "
                    "speeds.json); a value forces that form")
parser.add_argument("--input", help="an image, a folder or a glob")
parser.add_argument("--output", required=True, help="folder for the results")
parser.add_argument("--heatmap", action="store_true", help="also write the CAM heatmap over the "
                    "input (the model must be exported --with-heatmap)")
parser.add_argument("--keep-size", "--keep_size", action="store_true",
                    help="resize results back to each input's size")
parser.add_argument("--batch_size", "--batch-size", type=int, default=1)
parser.add_argument("--device", choices=["cpu", "gpu"], help="default: gpu if the runtime has "
                    "one (Paddle: a GPU build; ONNX Runtime: its CUDA provider)")
parser.add_argument("--enable_mkldnn", "--enable-mkldnn", type=str2bool, nargs="?", const=True,
                    default=None, help="oneDNN on CPU; default: as the export records "
                    "(on for U-GAT-IT, see docs/inference.md)")
parser.add_argument("--cpu_threads", "--cpu-threads", type=int, help="CPU math threads")
parser.add_argument("--num", type=int, help="generation models: how many samples")
parser.add_argument("--seed", type=int, default=0, help="generation models: noise seed")
face.add_arguments(parser)
args = parser.parse_args()
run(lambda: print(infer_exported(args.model_dir, args.output, args.input, args.heatmap,
                                 args.keep_size, args.batch_size, args.device,
                                 args.enable_mkldnn, args.cpu_threads, args.num, args.seed,
                                 runtime=args.runtime, faces=face.from_arguments(args, parser),
                                 precision=args.precision)))
