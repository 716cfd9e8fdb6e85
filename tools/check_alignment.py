"""Check our port against fixtures made by an official implementation; exit 1 on any failure.

    python tools/check_alignment.py --fixture tests/fixtures/ugatit_light_step.npz [--kernels both]
    python tools/check_alignment.py --model ugatit --reprod-log log_reprod/

The second form writes the paper-reproduction camp's folder (forward, metric, loss, bp_align,
train_align: *_paddle.npy, *_torch.npy or *_benchmark.npy, *_diff.log) with reprod_log.
"""
import argparse
import sys

from ppugatit.cli import run
from ppugatit.models.descriptions import DESCRIPTIONS

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fixture", nargs="+", help="official .npz fixture(s)")
parser.add_argument("--verbose", action="store_true", help="one row per tensor, not per section")
parser.add_argument("--kernels", choices=["on", "off", "both"], default="on",
                    help="the CPU kernels of ppugatit/kernels (on: as training runs), or every "
                         "layer by its reference code (off), or each in turn")
parser.add_argument("--model", choices=list(DESCRIPTIONS),
                    help="with --reprod-log: the model whose camp folder to write")
parser.add_argument("--reprod-log", metavar="DIR", help="write the camp's log_reprod/ here")
parser.add_argument("--fixtures", default="tests/fixtures", help="folder of the fixtures")
parser.add_argument("--forward-weights", metavar="FILE",
                    help="forward and loss from this file of the fixture's networks")
parser.add_argument("--weights", help="your trained run's weights: metric and train_align")
parser.add_argument("--data", help="with --weights: its data set (testA, testB)")
parser.add_argument("-c", "--config", help="with --weights: the run's config.yaml")
parser.add_argument("--inception-weights", metavar="PATH", help="with --weights")
args = parser.parse_args()


def main() -> None:
    if args.reprod_log:
        from ppugatit.reprod_kit import make_kit
        if not args.model:
            parser.error("--reprod-log needs --model")
        results = make_kit(args.model, args.reprod_log, args.fixtures, args.forward_weights,
                           args.weights, args.data, args.inception_weights, args.config)
        for name, ok in results.items():
            print(f"{name:<12} {'skipped' if ok is None else 'passed' if ok else 'FAILED'}")
        print(f"written to {args.reprod_log}")
        if any(ok is False for ok in results.values()):
            sys.exit(1)
        return
    if not args.fixture:
        parser.error("give --fixture FILE..., or --model M --reprod-log DIR")
    from ppugatit.alignment import check_fixture, format_report, load_fixture
    failed = False
    settings = {"on": [True], "off": [False], "both": [True, False]}[args.kernels]
    for path in args.fixture:
        for kernels in settings:
            rows = check_fixture(load_fixture(path), path, kernels=kernels)
            print(f"== {path}, kernels {'on' if kernels else 'off'}\n"
                  f"{format_report(rows, args.verbose)}\n")
            failed |= not all(r.ok for r in rows)
    if failed:
        sys.exit(1)


run(main)
