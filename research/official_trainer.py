"""Run the official U-GAT-IT trainer itself (znxlwm/UGATIT-pytorch's ``UGATIT.train()``) on a
task folder and keep its A->B translations of the test set for scoring (issue 29). Run with a Python
that has torch (it needs neither Paddle nor OpenCV); score with ``research/objects_bench.py``:

    /path/to/torch-env/bin/python research/official_trainer.py --repo ../UGATIT-pytorch \\
        --data output/objects96 --iterations 3000 --every 500 --seed 0 --out official_s0.npz

Two things are changed around the official code, and nothing in its training step:
- ``trainA_iter.next()`` (and the other loaders' ``.next()``) becomes ``next(trainA_iter)``:
  Python 3 iterators, and so torch 2.x's data loader iterators, have no ``next`` method. The
  official file is read, patched in memory by that one substitution and executed as a module.
- torchvision's compiled detection operators cannot load beside a CPU-only torch here; its
  fake-tensor registrations of them are skipped so that its pure-Python ``transforms``, the
  only part the official code uses, import.

Seeds: Python's, numpy's and torch's generators are seeded with ``--seed`` before the
networks are built, so a run is repeatable. ``--adv-weight 0`` and ``--cam-weight 0`` are the
official options that drop the adversarial and the CAM terms (the ablations).
"""
import argparse
import json
import os
import random
import re
import shutil
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--repo", required=True, help="a checkout of znxlwm/UGATIT-pytorch")
p.add_argument("--data", required=True, help="a task folder: trainA, trainB, testA, testB")
p.add_argument("--iterations", type=int, default=2000)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--light", type=int, default=1)
p.add_argument("--ch", type=int, default=8)
p.add_argument("--n_res", type=int, default=2)
p.add_argument("--img_size", type=int, default=96)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--adv-weight", type=float, default=1)
p.add_argument("--cam-weight", type=float, default=1000)
p.add_argument("--every", type=int, default=0, help="also translate with the official "
               "checkpoints it saves every this many iterations (its save_freq; 0: the end only)")
p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's choice)")
p.add_argument("--out", required=True, help=".npz file for the translations")
args = p.parse_args()

sys.modules["torchvision._meta_registrations"] = types.ModuleType(
    "torchvision._meta_registrations")
import torch  # noqa: E402

if args.threads:
    torch.set_num_threads(args.threads)
sys.path.insert(0, os.path.abspath(args.repo))
source_path = os.path.join(os.path.abspath(args.repo), "UGATIT.py")
with open(source_path, encoding="utf-8") as f:
    source, patched = re.subn(r"\b(\w+_iter)\.next\(\)", r"next(\1)", f.read())
official = types.ModuleType("UGATIT")
official.__file__ = source_path
exec(compile(source, source_path, "exec"), official.__dict__)  # the official file, patched

data = os.path.abspath(args.data)
work = tempfile.mkdtemp(prefix="official-ugatit-")
os.makedirs(os.path.join(work, "dataset"))
os.symlink(data, os.path.join(work, "dataset", "task"))
for sub in ("model", "img", "test"):
    os.makedirs(os.path.join(work, "results", "task", sub))
os.chdir(work)

options = argparse.Namespace(
    phase="train", light=bool(args.light), dataset="task", iteration=args.iterations,
    batch_size=1, print_freq=10 ** 9, save_freq=args.every or 10 ** 9, decay_flag=True, lr=args.lr,
    weight_decay=1e-4, adv_weight=args.adv_weight, cycle_weight=10, identity_weight=10,
    cam_weight=args.cam_weight, ch=args.ch, n_res=args.n_res, n_dis=6, img_size=args.img_size,
    img_ch=3, result_dir="results", device="cpu", benchmark_flag=False, resume=False)
random.seed(args.seed)
np.random.seed(args.seed)
torch.manual_seed(args.seed)
gan = official.UGATIT(options)
gan.build_model()
gan.train()


def translate() -> np.ndarray:
    """Its A->B translations of the test set, as its test() makes them (eval mode, test
    transform)."""
    gan.genA2B.eval()
    fakes = []
    with torch.no_grad():
        for real_A, _ in gan.testA_loader:
            fake, _, _ = gan.genA2B(real_A)
            picture = (fake[0].permute(1, 2, 0).numpy() + 1) / 2
            fakes.append(np.clip(np.round(picture * 255), 0, 255).astype(np.uint8))
    return np.stack(fakes)


final = translate()
at = {}
if args.every:
    for step in range(args.every, args.iterations + 1, args.every):
        gan.load(os.path.join(work, "results", "task", "model"), step)  # its own checkpoint
        at[f"fakes_{step}"] = translate()
np.savez_compressed(args.out + ".tmp.npz", fakes=final, seed=args.seed,
                    iterations=args.iterations, patched_next_calls=patched,
                    settings=json.dumps(vars(args)), **at)
os.replace(args.out + ".tmp.npz", args.out)
shutil.rmtree(work, ignore_errors=True)  # its checkpoints, read above
print(f"wrote {len(final)} A->B translations ({len(at)} checkpoints besides the end) to "
      f"{args.out} ({patched} .next() calls patched)")
