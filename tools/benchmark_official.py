"""Time the official PyTorch U-GAT-IT training step (run with a Python that has torch).

    python tools/benchmark_official.py --repo path/to/UGATIT-pytorch --light 1 --ch 16 ...

Imports the official ``networks.py`` from --repo and runs the step of its UGATIT.train()
(D update, G update, rho clipping) on random inputs; prints one JSON line, or with --serve
times one run per request so that tools/benchmark.py --official-repo can alternate the
official runs with ours. Not part of the package.
"""
import argparse
import itertools
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--repo", required=True)
for name, default in (("light", 1), ("ch", 64), ("n_res", 4), ("img_size", 256),
                      ("n_dis_global", 7), ("n_dis_local", 5), ("batch_size", 1), ("threads", 2),
                      ("warmup", 2), ("repeat", 5)):
    p.add_argument("--" + name, type=int, default=default)
p.add_argument("--keep-memory", action="store_true",
               help="reuse freed memory as ppugatit's train.cpu_keep_memory does")
p.add_argument("--serve", action="store_true",
               help="time one run per line read from stdin ('train', 'infer'; 'done' ends)")
a = p.parse_args()
if a.keep_memory:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ppugatit.malloc import keep_freed_memory  # noqa: E402 (imports no Paddle)
    keep_freed_memory()
sys.path.insert(0, a.repo)
from networks import Discriminator, ResnetGenerator, RhoClipper  # noqa: E402

torch.set_num_threads(a.threads)
gen = dict(input_nc=3, output_nc=3, ngf=a.ch, n_blocks=a.n_res, img_size=a.img_size,
           light=bool(a.light))
genA2B, genB2A = ResnetGenerator(**gen), ResnetGenerator(**gen)
disGA, disGB = Discriminator(3, a.ch, a.n_dis_global), Discriminator(3, a.ch, a.n_dis_global)
disLA, disLB = Discriminator(3, a.ch, a.n_dis_local), Discriminator(3, a.ch, a.n_dis_local)
G_optim = torch.optim.Adam(itertools.chain(genA2B.parameters(), genB2A.parameters()), lr=1e-4,
                           betas=(0.5, 0.999), weight_decay=1e-4)
D_optim = torch.optim.Adam(itertools.chain(disGA.parameters(), disGB.parameters(),
                                           disLA.parameters(), disLB.parameters()),
                           lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)
MSE, L1, BCE = nn.MSELoss(), nn.L1Loss(), nn.BCEWithLogitsLoss()
clip = RhoClipper(0, 1)


def peak_rss_mb():
    with open("/proc/self/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def to(x, value):
    return torch.full_like(x, value)


def adv(pairs, target):
    return sum(MSE(x, to(x, target)) for x in pairs)


def step(real_A, real_B):
    D_optim.zero_grad()
    fake_A2B, _, _ = genA2B(real_A)
    fake_B2A, _, _ = genB2A(real_B)
    real = [o for d, x in ((disGA, real_A), (disLA, real_A), (disGB, real_B), (disLB, real_B))
            for o in d(x)[:2]]
    fake = [o for d, x in ((disGA, fake_B2A), (disLA, fake_B2A), (disGB, fake_A2B),
                           (disLB, fake_A2B)) for o in d(x)[:2]]
    D_loss = adv(real, 1.0) + adv(fake, 0.0)
    D_loss.backward()
    D_optim.step()

    G_optim.zero_grad()
    fake_A2B, fake_A2B_cam, _ = genA2B(real_A)
    fake_B2A, fake_B2A_cam, _ = genB2A(real_B)
    fake_A2B2A, _, _ = genB2A(fake_A2B)
    fake_B2A2B, _, _ = genA2B(fake_B2A)
    fake_A2A, fake_A2A_cam, _ = genB2A(real_A)
    fake_B2B, fake_B2B_cam, _ = genA2B(real_B)
    fake = [o for d, x in ((disGA, fake_B2A), (disLA, fake_B2A), (disGB, fake_A2B),
                           (disLB, fake_A2B)) for o in d(x)[:2]]
    G_loss = (adv(fake, 1.0) + 10 * (L1(fake_A2B2A, real_A) + L1(fake_B2A2B, real_B))
              + 10 * (L1(fake_A2A, real_A) + L1(fake_B2B, real_B))
              + 1000 * (BCE(fake_B2A_cam, to(fake_B2A_cam, 1)) + BCE(fake_A2A_cam, to(fake_A2A_cam, 0))
                        + BCE(fake_A2B_cam, to(fake_A2B_cam, 1)) + BCE(fake_B2B_cam, to(fake_B2B_cam, 0))))
    G_loss.backward()
    G_optim.step()
    genA2B.apply(clip)
    genB2A.apply(clip)
    return G_loss.item()


real_A = torch.rand(a.batch_size, 3, a.img_size, a.img_size) * 2 - 1
real_B = torch.rand(a.batch_size, 3, a.img_size, a.img_size) * 2 - 1


def infer():
    genA2B.eval()
    with torch.no_grad():
        genA2B(real_A[:1])
    genA2B.train()


def timed(fn):
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def info():
    return {"peak_rss_mb": peak_rss_mb(), "torch": torch.__version__, "threads": a.threads,
            "keep_memory": a.keep_memory}


JOBS = {"train": lambda: step(real_A, real_B), "infer": infer}
if a.serve:
    # one timed run per request line ("train" or "infer"), so that the caller can alternate
    # with its own runs: both then see the same load on a shared machine
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = line.strip()
        if job == "done":
            break
        print(json.dumps({"s": timed(JOBS[job])}), flush=True)
    print(json.dumps(info()), flush=True)
    sys.exit(0)

result = info()
for job, key in (("train", "s_per_step"), ("infer", "inference_s_per_image")):
    for _ in range(a.warmup):
        JOBS[job]()
    result[key] = statistics.median(timed(JOBS[job]) for _ in range(a.repeat))
result["images_per_s"] = a.batch_size / result["s_per_step"]
result["peak_rss_mb"] = peak_rss_mb()
print(json.dumps(result))
