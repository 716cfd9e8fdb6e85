"""Train our U-GAT-IT or NICE-GAN on the objects task (issue 29) with the Trainer, as a user
would, at the official trainer's settings (research/official_trainer.py's or
research/official_nicegan_trainer.py's), and keep its A->B translations of the test set at
every evaluation for research/objects_bench.py:

    python research/objects_ours.py --data /tmp/coded96 --iterations 3000 --every 500 \\
        --lr 2e-4 --seed 0 --out /tmp/ours_coded_s0.npz

The settings match the official options those files pass: light, ch 8, n_res 2, batch 1, lr
decay from halfway; for U-GAT-IT weights adv 1 / cycle 10 / identity 10 / CAM 1000 and the
official discriminator depths (7 and 5 layers, which its build_model() fixes whatever its
--n_dis says); for NICE-GAN adv 1 / cycle 10 / reconstruction 10 and 7 discriminator layers.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quality_run import bench_config, train_and_score  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", default="ugatit", choices=("ugatit", "nicegan"))
p.add_argument("--data", required=True, help="a task folder: trainA, trainB, testA, testB")
p.add_argument("--iterations", type=int, default=3000)
p.add_argument("--every", type=int, default=0, help="translate every this many iterations "
               "(0: the end only)")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--img_size", type=int, default=96)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--adv-weight", type=float, default=1)
p.add_argument("--cam-weight", type=float, help="U-GAT-IT only (default 1000, the official)")
p.add_argument("--threads", type=int, default=0)
p.add_argument("--out", required=True, help=".npz file for the translations")
args = p.parse_args()
if args.model == "nicegan" and args.cam_weight is not None:
    p.error("--cam-weight: NICE-GAN's CAM term shares the adversarial weight; use --adv-weight")
if args.model == "ugatit" and args.cam_weight is None:
    args.cam_weight = 1000.0

if args.model == "ugatit":
    extra = {"model.n_dis_global": 7, "model.n_dis_local": 5, "loss.cam_weight": args.cam_weight}
else:
    extra = {"model.n_dis": 7}
extra["loss.adv_weight"] = args.adv_weight
with tempfile.TemporaryDirectory(prefix=f"ours-objects-{args.model}-") as work:
    cfg = bench_config(args.model, args.img_size, args.iterations, args.seed, args.data, work,
                       args.every or args.iterations, args.lr, args.threads, extra)
    outputs: dict = {}
    train_and_score(cfg, outputs)
at = {f"fakes_{it}": out["A2B"] for it, out in outputs.items() if 0 < it < args.iterations}
np.savez_compressed(args.out + ".tmp.npz", fakes=outputs[args.iterations]["A2B"],
                    seed=args.seed, iterations=args.iterations, settings=json.dumps(vars(args)),
                    **at, fakes_0=outputs[0]["A2B"])
os.replace(args.out + ".tmp.npz", args.out)
print(f"wrote {len(outputs[args.iterations]['A2B'])} A->B translations "
      f"({len(at)} checkpoints besides the start and the end) to {args.out}")
