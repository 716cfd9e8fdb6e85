#!/usr/bin/env bash
# Data for the TIPC chain: bash test_tipc/prepare.sh CONFIG MODE
# Every mode runs offline: the demo data set is generated (deterministically) into data/demo,
# and whole_infer exports the official-format checkpoint shipped in tests/fixtures.
set -euo pipefail
FILENAME=$1
MODE=$2
cd "$(dirname "$0")/.."
python_bin=$(sed -n '3p' "$FILENAME" | sed 's/\r$//' | cut -d: -f2-)
case $MODE in
    lite_train_lite_infer|lite_train_whole_infer|whole_train_whole_infer|whole_infer) ;;
    *) echo "prepare.sh: unknown mode '$MODE'" >&2; exit 2 ;;
esac
"$python_bin" -c "import sys; sys.path.insert(0, '.'); from ppugatit.data.demo import ensure_demo_dataset; ensure_demo_dataset('data/demo')"
echo "prepared data/demo for $MODE"
