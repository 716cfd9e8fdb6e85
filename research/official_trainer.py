"""Run the official U-GAT-IT trainer itself (znxlwm/UGATIT-pytorch's ``UGATIT.train()``) on a
task folder and keep its A->B translations of the test set for scoring (issue 29). Run with a Python
that has torch (it needs neither Paddle nor OpenCV); score with ``research/objects_bench.py``:

    /path/to/torch-env/bin/python research/official_trainer.py --repo ../UGATIT-pytorch \\
        --data output/objects96 --iterations 3000 --every 500 --seed 0 --out official_s0.npz

research/official_harness.py says what is changed around the official code (one in-memory
substitution, ``X_iter.next()`` -> ``next(X_iter)``, and nothing in its training step) and how
a run is seeded. ``--adv-weight 0`` and ``--cam-weight 0`` are the official options that drop
the adversarial and the CAM terms (the ablations).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_harness import (NEVER, arguments, load_official, parse,  # noqa: E402
                              save_translations, seed_all, to_picture, work_folder)

p = arguments(__doc__.splitlines()[0], "znxlwm/UGATIT-pytorch")
p.add_argument("--cam-weight", type=float, default=1000)
args = parse(p)

official, patched = load_official(args.repo, "UGATIT.py", args.threads)
import torch  # noqa: E402  (after load_official, which prepares torchvision's import)

work = work_folder(args.data, "official-ugatit-", ("model", "img", "test"))
options = argparse.Namespace(
    phase="train", light=bool(args.light), dataset="task", iteration=args.iterations,
    batch_size=1, print_freq=NEVER, save_freq=args.every or NEVER, decay_flag=True, lr=args.lr,
    weight_decay=1e-4, adv_weight=args.adv_weight, cycle_weight=10, identity_weight=10,
    cam_weight=args.cam_weight, ch=args.ch, n_res=args.n_res, n_dis=6, img_size=args.img_size,
    img_ch=3, result_dir="results", device="cpu", benchmark_flag=False, resume=False)
seed_all(args.seed)
gan = official.UGATIT(options)
gan.build_model()
gan.train()


def translate() -> np.ndarray:
    """Its A->B translations of the test set, as its test() makes them (eval mode, test
    transform)."""
    gan.genA2B.eval()
    with torch.no_grad():
        return np.stack([to_picture(gan.genA2B(real_A)[0]) for real_A, _ in gan.testA_loader])


final = translate()
at = {}
if args.every:
    for step in range(args.every, args.iterations + 1, args.every):
        gan.load(os.path.join(work, "results", "task", "model"), step)  # its own checkpoint
        at[f"fakes_{step}"] = translate()
save_translations(args, final, at, patched, work)
