"""Convert an official PyTorch checkpoint (.pt) to our weights (.pdparams), without PyTorch.

    python tools/convert_weights.py --src 100_params_latest.pt --dst ugatit.pdparams

The model and its sizes are read off the checkpoint; -c/-o set what it cannot tell (a light
model's img_size).
"""
import argparse

from ppugatit.cli import run
from ppugatit.official import convert_checkpoint_file

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--src", required=True, help="official checkpoint (.pt)")
parser.add_argument("--dst", required=True, help="where to write our weights (.pdparams)")
parser.add_argument("-c", "--config", help="config of the model (optional)")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE")
args = parser.parse_args()
run(lambda: print(convert_checkpoint_file(args.src, args.dst, args.config, args.override)))
