"""Train the official PyTorch U-GAT-IT or NICE-GAN on the quality task (run with a Python that
has torch; research/quality_bench.py --official-repo starts it).

    python research/quality_official.py --model ugatit --repo path/to/UGATIT-pytorch \\
        --task task.npz --out official_seed0.npz --iterations 2000 --score-at 0,500,...

The official networks and step (research/official_models.py) and the official trainer's loop: the
linear lr decay over the second half, subtracted before each step, then one image of each
domain from its own shuffled loader. The data pipeline is the official one
(RandomHorizontalFlip, Resize to img_size + 30, RandomCrop, Normalize(0.5, 0.5); a new
permutation per epoch, as DataLoader(shuffle=True)), written with torch operations on the
task's pictures so that the torch environment needs no torchvision; all randomness comes
from torch's global generator seeded with --seed, as in the official code. At each --score-at
iteration the test sets are translated in eval mode, as the official test(), and the outputs
(float32, [-1, 1], NCHW) are saved to --out for ppugatit's scorer. With --init the networks
start from given weights (``net/param`` keys in the official names, e.g. ours written by
quality_bench.py --official-init ours) instead of the official initialisation; the torch
generator is seeded and the official initialisation drawn all the same, so the data stream is
that of the same --seed without --init. Not part of the package.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import official_models  # noqa: E402

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", choices=("ugatit", "nicegan"), required=True)
p.add_argument("--repo", required=True)
p.add_argument("--task", required=True, help=".npz of uint8 NHWC trainA, trainB, testA, testB")
p.add_argument("--out", required=True)
p.add_argument("--score-at", required=True, help="comma-separated iterations (0: before)")
p.add_argument("--init", help=".npz of initial weights, keys net/param in the official names")
for name, default in (("light", 1), ("ch", 8), ("n_res", 2), ("img_size", 64),
                      ("n_dis_global", 6), ("n_dis_local", 4), ("n_dis", 6),
                      ("iterations", 1000), ("seed", 0), ("threads", 2), ("decay_flag", 1)):
    p.add_argument("--" + name, type=int, default=default)
p.add_argument("--lr", type=float, default=1e-4)
p.add_argument("--weight_decay", type=float, default=1e-4)
a = p.parse_args()

torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)
task = np.load(a.task)
if task["testA"].shape[1] != a.img_size:
    sys.exit(f"{a.task}: pictures of {task['testA'].shape[1]} px, not --img_size {a.img_size}")
if a.model == "ugatit":
    model = official_models.UGATIT(a.repo, a.light, a.ch, a.n_res, a.img_size, a.n_dis_global,
                                   a.n_dis_local, a.lr, a.weight_decay)
else:
    model = official_models.NICEGAN(a.repo, a.light, a.ch, a.n_res, a.n_dis, a.img_size, a.lr,
                                    a.weight_decay)
if a.init:
    with np.load(a.init) as weights:
        for net_name, net in model.networks.items():
            state = {k.split("/", 1)[1]: torch.from_numpy(weights[k]) for k in weights.files
                     if k.split("/", 1)[0] == net_name}
            try:
                net.load_state_dict(state)
            except RuntimeError as e:
                sys.exit(f"{a.init}: does not fit the official {net_name}: {e}")


def normalize(x):
    """uint8 NHWC -> float NCHW in [-1, 1] (ToTensor, Normalize(0.5, 0.5))."""
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2).float() / 127.5 - 1


def train_transform(img):
    """RandomHorizontalFlip, Resize((s + 30, s + 30)) bilinear, RandomCrop(s), as uint8."""
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()[None]
    if torch.rand(1) < 0.5:
        x = x.flip(-1)
    big = a.img_size + 30
    x = F.interpolate(x, size=(big, big), mode="bilinear", align_corners=False, antialias=True)
    x = x.round().clamp(0, 255)  # PIL keeps 8-bit pictures
    i = int(torch.randint(0, big - a.img_size + 1, size=(1,)))
    j = int(torch.randint(0, big - a.img_size + 1, size=(1,)))
    return x[:, :, i:i + a.img_size, j:j + a.img_size] / 127.5 - 1


class Loader:
    """One domain's DataLoader(batch_size=1, shuffle=True), restarted when exhausted."""

    def __init__(self, images):
        self.images, self.order = images, []

    def next(self):
        if not self.order:
            self.order = torch.randperm(len(self.images)).tolist()
        return train_transform(self.images[self.order.pop(0)])


@torch.no_grad()
def translate():
    model.eval()
    out = {d: model.translate(d, normalize(task["test" + d[0]])).numpy() for d in ("A2B", "B2A")}
    model.train()
    return out


score_at = sorted({int(s) for s in a.score_at.split(",")})
results = {}
if 0 in score_at:
    for d, x in translate().items():
        results[f"{0}/{d}"] = x
loaders = {d: Loader(task["train" + d]) for d in "AB"}
model.train()
half = a.iterations // 2
tic = time.perf_counter()
for step in range(1, a.iterations + 1):
    if a.decay_flag and step > half:
        model.set_lr(a.lr - (step - half) * (a.lr / half))
    real_A, real_B = loaders["A"].next(), loaders["B"].next()
    d_loss, g_loss = model.step(real_A, real_B)
    if step in score_at:
        for d, x in translate().items():
            results[f"{step}/{d}"] = x
    if step % 100 == 0 or step == a.iterations:
        spent = time.perf_counter() - tic
        print(json.dumps({"iter": step, "of": a.iterations, "D_loss": d_loss, "G_loss": g_loss,
                          "s_per_step": spent / step,
                          "eta_s": spent / step * (a.iterations - step)}), flush=True)
tmp = a.out + ".tmp.npz"
np.savez(tmp, **results)
os.replace(tmp, a.out)
