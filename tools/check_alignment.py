"""Check our port against a fixture made by an official implementation; exit 1 on any failure.

    python tools/check_alignment.py --fixture tests/fixtures/ugatit_light_step.npz [--kernels both]
"""
import argparse
import sys

from ppugatit.alignment import check_fixture, format_report, load_fixture
from ppugatit.cli import run

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fixture", required=True, nargs="+", help="official .npz fixture(s)")
parser.add_argument("--verbose", action="store_true", help="one row per tensor, not per section")
parser.add_argument("--kernels", choices=["on", "off", "both"], default="on",
                    help="the CPU kernels of ppugatit/kernels (on: as training runs), or every "
                         "layer by its reference code (off), or each in turn")
args = parser.parse_args()


def main() -> None:
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
