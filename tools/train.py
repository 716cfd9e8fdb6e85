"""Train a model: python tools/train.py -c configs/demo.yaml [-o key=value ...] [--resume]"""
import argparse

from ppugatit.cli import run
from ppugatit.config import build_config, parse_overrides
from ppugatit.engine import Trainer

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("-c", "--config", required=True, help="YAML config, e.g. configs/ugatit.yaml")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override config keys, e.g. -o model.light=true train.iterations=100")
parser.add_argument("--resume", action="store_true", help="continue the run in output_dir")
parser.add_argument("--fresh", action="store_true", help="move a run in output_dir aside (to "
                    "<output_dir>.old-<time>) and start anew")
parser.add_argument("--inception-weights", metavar="PATH", help="FID Inception weights for "
                    "train.eval_interval (same as -o train.inception_weights=PATH)")
args = parser.parse_args()
extra = {"train.inception_weights": args.inception_weights} if args.inception_weights else {}
run(lambda: Trainer(build_config(args.config, {**parse_overrides(args.override), **extra}),
                    resume=args.resume, fresh=args.fresh).train())
