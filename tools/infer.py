"""Translate pictures with any weights ppugatit reads: ours, official PyTorch, PaddleGAN, TensorFlow.

    python tools/infer.py --weights output/demo/weights.pdparams --input data/demo/testA \
        --output out/A2B
    python tools/infer.py -c configs/ugatit_light.yaml --weights params_latest.pt \
        --input photo.jpg --output out --heatmap --grid

    python tools/infer.py --weights selfie2anime.pt -o model.img_size=256 --input photos \
        --output out/anime --face-crop --paste-back

    python tools/infer.py --weights checkpoint/UGATIT_light_selfie2anime_lsgan_4resblock_6dis_1_1_10_10_1000_sn_smoothing \
        --input selfie.jpg --output out --face-crop
    python tools/infer.py --weights ugatit_light.pdparams --input selfie.jpg --output out --face-crop

The format is told by the file's content. The authors' TensorFlow and PaddleGAN weights are fed
and read as their own test code does (--pipeline auto); --pipeline ours uses ours instead.

--input is an image, a video (mp4, mov, webm, avi, mkv, gif: written as <name>.mp4 or .gif,
the sound kept), a folder (recursively, sub-folders kept) or a quoted glob. --runtime auto runs
the export in the inference/ folder beside the weights, in its fastest form that passed its
quality gate. Generation models sample instead: --num N --seed S.
"""
import argparse

from ppugatit import face
from ppugatit.cli import run
from ppugatit.export.commands import infer_beside
from ppugatit.inference import infer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("-c", "--config", help="the run's config (default: config.yaml beside "
                    "--weights; for a .pt, the sizes are read off the file)")
parser.add_argument("--weights", required=True, help="weights.pdparams, a .pdckpt, an "
                    "official .pt, a PaddleGAN .pdparams or a TensorFlow checkpoint folder")
parser.add_argument("--pipeline", default="auto", choices=["auto", "ours", "tensorflow",
                    "paddlegan"], help="resize and pixel rounding (auto: the weights' "
                    "authors')")
parser.add_argument("--runtime", default="dygraph", choices=["dygraph", "auto", "paddle",
                    "onnxruntime"], help="dygraph (default): the weights themselves; others: "
                    "the export in the inference/ folder beside them (auto: the fastest form "
                    "there that passed its quality gate)")
parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "int8", "bf16",
                    "fp16"], help="with an export: force one form (default: the fastest)")
parser.add_argument("--input", help="an image, a folder or a glob")
parser.add_argument("--output", required=True, help="folder for the results")
parser.add_argument("--direction", help="A2B (default) or B2A")
parser.add_argument("--heatmap", action="store_true", help="also write the CAM heatmap over "
                    "the input as <name>_heatmap")
parser.add_argument("--grid", action="store_true", help="also write the official seven-panel "
                    "column (real, identity, translation, cycle) as <name>_grid")
parser.add_argument("--keep-size", "--keep_size", action="store_true",
                    help="resize results back to each input's size (default: model.img_size)")
parser.add_argument("--batch-size", "--batch_size", type=int, default=1)
parser.add_argument("--device", choices=["cpu", "gpu"], help="default: gpu if Paddle has one")
parser.add_argument("--num", type=int, help="generation models: how many samples")
parser.add_argument("--seed", type=int, default=0, help="generation models: noise seed")
face.add_arguments(parser)
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. model.img_size=128")
args = parser.parse_args()
if args.runtime == "dygraph":
    run(lambda: print(infer(args.weights, args.output, args.input, args.config, args.override,
                            args.direction, args.heatmap, args.grid, args.keep_size,
                            args.batch_size, args.device, args.num, args.seed,
                            faces=face.from_arguments(args, parser), pipeline=args.pipeline)))
else:
    run(lambda: print(infer_beside(args.weights, args.output, args.input, args.runtime,
                                   args.precision, args.direction, args.grid,
                                   heatmap=args.heatmap, keep_size=args.keep_size,
                                   batch_size=args.batch_size, device=args.device,
                                   num=args.num, seed=args.seed,
                                   faces=face.from_arguments(args, parser))))
