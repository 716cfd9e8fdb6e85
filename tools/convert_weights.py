"""Convert weights of any source ppugatit reads to ours (.pdparams + config.yaml), offline.

    python tools/convert_weights.py --src 100_params_latest.pt --dst converted/weights.pdparams
    python tools/convert_weights.py --src checkpoint/UGATIT_light_selfie2anime_..._smoothing \
        --dst tf_light/weights.pdparams
    python tools/convert_weights.py --src ugatit_light.pdparams --dst paddlegan_light/weights.pdparams

--src: an official PyTorch .pt, a PaddleGAN .pdparams, the authors' TensorFlow checkpoint
folder (or its <name>.index), or our own weights; the format is told by the content, the model
and its sizes are read off the tensors. -c/-o set what a file cannot tell (a light model's
img_size, 256 unless given). The config.yaml written beside --dst is what tools/infer.py finds.
"""
import argparse

from ppugatit.cli import run
from ppugatit.weights.loader import convert_file

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--src", required=True, help="weights file or TensorFlow checkpoint folder")
parser.add_argument("--dst", required=True, help="where to write our weights (.pdparams)")
parser.add_argument("-c", "--config", help="config of the model (optional)")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE")
args = parser.parse_args()
run(lambda: print(convert_file(args.src, args.dst, args.config, args.override)))
