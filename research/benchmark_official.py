"""Time the official PyTorch U-GAT-IT training step (run with a Python that has torch).

    python research/benchmark_official.py --repo path/to/UGATIT-pytorch --light 1 --ch 16 ...

Imports the official ``networks.py`` from --repo and runs the step of its UGATIT.train()
(D update, G update, rho clipping; research/official_models.py) on random inputs; prints one JSON line, or with --serve
times one run per request so that tools/benchmark.py --official-repo can alternate the
official runs with ours. Not part of the package.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

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
    from ppugatit.kernels.malloc import keep_freed_memory  # noqa: E402 (imports no Paddle)
    keep_freed_memory()
from official_models import UGATIT  # noqa: E402 (next to this script)

torch.set_num_threads(a.threads)
model = UGATIT(a.repo, a.light, a.ch, a.n_res, a.img_size, a.n_dis_global, a.n_dis_local)


def peak_rss_mb():
    with open("/proc/self/status", encoding="utf-8") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def step(real_A, real_B):
    return model.step(real_A, real_B)[1]


real_A = torch.rand(a.batch_size, 3, a.img_size, a.img_size) * 2 - 1
real_B = torch.rand(a.batch_size, 3, a.img_size, a.img_size) * 2 - 1


def infer():
    model.genA2B.eval()
    with torch.no_grad():
        model.genA2B(real_A[:1])
    model.genA2B.train()


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
