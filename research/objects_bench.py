"""Score A->B translations of the objects task (issue 29) beside the trivial baselines:
translations written by research/official_trainer.py (the official trainer) or by ours.

    python research/objects_bench.py --img_size 96 --variant coded /tmp/official_s0.npz /tmp/official_s1.npz

One row per file and per baseline: whole-picture L1, object L1 (0..255) and the share of
objects with the right colour, the right look and both; then whether the task is accepted:
the best trivial baseline's object L1 at least 1.5x the translations' mean.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objects_task import VARIANTS, make_task, scores, trivial_baselines  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("files", nargs="+", help=".npz files with 'fakes' (N, H, W, 3) uint8")
p.add_argument("--img_size", type=int, default=96)
p.add_argument("--variant", default="swap", choices=list(VARIANTS),
               help="the task's variant (research/objects_task.py says what each f is)")
args = p.parse_args()

task = make_task(args.img_size, variant=args.variant)
rows = {f"baseline: {k}": v for k, v in trivial_baselines(task).items()}
runs = {}
for path in args.files:
    with np.load(path) as f:
        fakes = f["fakes"]
    if fakes.shape != task["testB"].shape:
        sys.exit(f"{path}: translations {fakes.shape}, the task's test set is "
                 f"{task['testB'].shape}")
    runs[path] = rows[os.path.basename(path)] = scores(fakes, task)
columns = ("l1", "object_l1", "colour_accuracy", "look_accuracy", "object_accuracy")
print(f"{'':40s}" + "".join(f"{c:>17s}" for c in columns))
for name, row in rows.items():
    print(f"{name:40s}" + "".join(f"{row[c]:17.3f}" for c in columns))
best_trivial = min(v["object_l1"] for k, v in rows.items() if k.startswith("baseline"))
mean = float(np.mean([r["object_l1"] for r in runs.values()]))
print(f"best trivial object L1 {best_trivial:.2f} / translations' mean {mean:.2f} = "
      f"{best_trivial / mean:.2f}x (accepted at >= 1.5x)")
print(json.dumps({"rows": rows, "ratio": best_trivial / mean}))
