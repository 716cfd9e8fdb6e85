"""Check our port against a fixture made by an official implementation; exit 1 on any failure.

    python tools/check_alignment.py --fixture tests/fixtures/ugatit_light_step.npz
"""
import argparse
import sys

from ppugatit.alignment import check_fixture, format_report, load_fixture
from ppugatit.cli import run

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--fixture", required=True, nargs="+", help="official .npz fixture(s)")
parser.add_argument("--verbose", action="store_true", help="one row per tensor, not per section")
args = parser.parse_args()


def main() -> None:
    failed = False
    for path in args.fixture:
        rows = check_fixture(load_fixture(path), path)
        print(f"== {path}\n{format_report(rows, args.verbose)}\n")
        failed |= not all(r.ok for r in rows)
    if failed:
        sys.exit(1)


run(main)
