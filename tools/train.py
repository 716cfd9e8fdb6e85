"""Train a model: python tools/train.py -c configs/demo.yaml [-o key=value ...] [--resume]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppugatit.cli import run  # noqa: E402
from ppugatit.config import build_config  # noqa: E402
from ppugatit.engine import Trainer  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("-c", "--config", required=True, help="YAML config, e.g. configs/ugatit.yaml")
parser.add_argument("-o", "--override", nargs="+", default=[], metavar="KEY=VALUE",
                    help="override config keys, e.g. -o model.light=true train.iterations=100")
parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
args = parser.parse_args()
run(lambda: Trainer(build_config(args.config, args.override), resume=args.resume).train())
