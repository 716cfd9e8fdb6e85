"""Pictures and curves of the objects task (issue 29) for docs/quality.md: a grid of test
scenes (A, the true B, then each named run's translation), and object L1 and object accuracy
over iterations, one line per run file, coloured by side:

    python research/objects_figure.py --variant coded --grid docs/objects_grid.png \\
        --curves docs/objects_curves.png official:/tmp/off_coded_s0.npz ours:/tmp/ours_coded_s0.npz

A run is ``LABEL:FILE``; files with the same label are one side's seeds. The grid shows
each label's first file.
"""
import argparse
import os
import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from objects_task import VARIANTS, make_task, scores, trivial_baselines  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("runs", nargs="+", help="LABEL:FILE, .npz files with fakes and fakes_<it>")
p.add_argument("--variant", default="coded", choices=list(VARIANTS))
p.add_argument("--img_size", type=int, default=96)
p.add_argument("--scenes", type=int, default=8, help="test scenes in the grid")
p.add_argument("--grid", help="PNG for the grid")
p.add_argument("--curves", help="PNG for the curves")
args = p.parse_args()

task = make_task(args.img_size, variant=args.variant)
runs: dict[str, list[dict[int, np.ndarray]]] = {}
for spec in args.runs:
    label, _, path = spec.partition(":")
    if not path:
        sys.exit(f"{spec}: give a run as LABEL:FILE")
    with np.load(path) as f:
        steps = {int(k.split("_")[1]): f[k] for k in f.files if k.startswith("fakes_")}
        steps[int(f["iterations"])] = f["fakes"]
    runs.setdefault(label, []).append(steps)


def save(fig, path: str) -> None:
    fig.savefig(path + ".tmp.png", dpi=110, bbox_inches="tight")
    os.replace(path + ".tmp.png", path)
    print(f"wrote {path}")


if args.grid:
    rows = [("A", task["testA"]), ("true B", task["testB"])]
    rows += [(label, seeds[0][max(seeds[0])]) for label, seeds in runs.items()]
    n = args.scenes
    fig, axes = plt.subplots(len(rows), n, figsize=(1.3 * n, 1.4 * len(rows)))
    for r, (label, pictures) in enumerate(rows):
        for c in range(n):
            axes[r, c].imshow(pictures[c])
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=8)
    save(fig, args.grid)

if args.curves:
    base = min(v["object_l1"] for v in trivial_baselines(task).values())
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    colours = dict(zip(runs, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for label, seeds in runs.items():
        for k, steps in enumerate(seeds):
            its = sorted(steps)
            got = [scores(steps[i], task) for i in its]
            kw = {"color": colours[label], "alpha": 0.8, "label": label if k == 0 else None}
            left.plot(its, [g["object_l1"] for g in got], marker="o", ms=3, **kw)
            right.plot(its, [g["object_accuracy"] for g in got], marker="o", ms=3, **kw)
    left.axhline(base, color="grey", ls="--", label="best trivial output")
    left.axhline(base / 1.5, color="grey", ls=":", label="acceptance (best trivial / 1.5)")
    left.set(xlabel="iteration", ylabel="object L1 (0..255)", title="object L1, lower is better")
    right.set(xlabel="iteration", ylabel="share of objects right",
              title="object accuracy (trivial outputs: 0)")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    save(fig, args.curves)
