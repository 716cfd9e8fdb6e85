"""Timing and memory of the training step and of inference, for tools/benchmark.py."""
from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import time
from typing import Callable

import numpy as np
import paddle


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_memory_mb(device: str) -> float:
    """Peak GPU memory allocated by Paddle, or this process's peak resident set on CPU."""
    if device == "gpu":
        return paddle.device.cuda.max_memory_allocated() / 2 ** 20
    return peak_rss_mb()


def _sync(device: str) -> None:
    if device == "gpu":
        paddle.device.synchronize()


def median_time(fn: Callable[[], object], warmup: int, repeat: int, device: str) -> float:
    """Median wall time of ``fn`` over ``repeat`` runs after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def machine() -> str:
    """A one-line description of the machine, for reports."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = ""
    if paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count():
        gpu = ", " + paddle.device.cuda.get_device_name(0)
    return f"{cpu}, {os.cpu_count()} cores{gpu}, Paddle {paddle.__version__}"


def synthetic_batch(model, batch_size: int, img_size: int, seed: int = 0) -> dict:
    """Random inputs in [-1, 1] for every folder the model trains on."""
    rng = np.random.default_rng(seed)
    return {k: paddle.to_tensor(rng.uniform(-1, 1, (batch_size, 3, img_size, img_size))
                                .astype("float32")) for k in model.train_folders}


def _timed(fn: Callable[[], object], warmup: int, repeat: int, device: str,
           theirs: Callable[[], float] | None) -> tuple[float, float | None]:
    if theirs is None:
        return median_time(fn, warmup, repeat, device), None
    return alternate(fn, theirs, warmup, repeat, device)


def bench_train(model, batch_size: int, img_size: int, warmup: int, repeat: int,
                device: str, theirs: Callable[[], float] | None = None) -> dict:
    """s/step of ``model.train_step``; with ``theirs``, also its median, taken in turns."""
    batch = synthetic_batch(model, batch_size, img_size)
    model.train()

    def step():
        losses = model.train_step(batch)
        float(losses["G_loss"])
    s, other = _timed(step, warmup, repeat, device, theirs)
    return {"s_per_step": s, "images_per_s": batch_size / s, "theirs_s": other}


def _inference_input(model, batch_size: int, img_size: int) -> tuple[paddle.nn.Layer, np.ndarray]:
    rng = np.random.default_rng(0)
    if model.task == "generation":
        from ppugatit.inference import z_dim
        return model.sampler(), rng.standard_normal((batch_size, z_dim(model))).astype("float32")
    layer = model.translator(model.directions[0])
    return layer, rng.uniform(-1, 1, (batch_size, 3, img_size, img_size)).astype("float32")


def bench_dygraph_inference(model, batch_size: int, img_size: int, warmup: int, repeat: int,
                            device: str, theirs: Callable[[], float] | None = None) -> dict:
    layer, x = _inference_input(model, batch_size, img_size)
    layer.eval()
    xt = paddle.to_tensor(x)

    def run():
        with paddle.no_grad():
            out = layer(xt)
        (out[0] if isinstance(out, (tuple, list)) else out).numpy()
    s, other = _timed(run, warmup, repeat, device, theirs)
    return {"s_per_batch": s, "images_per_s": batch_size / s, "theirs_s": other}


def bench_exported_inference(model, batch_size: int, img_size: int, warmup: int, repeat: int,
                             device: str, enable_mkldnn: bool | None, cpu_threads: int,
                             theirs: Callable[[], float] | None = None) -> dict:
    from ppugatit.export import Predictor, export_model

    _, x = _inference_input(model, batch_size, img_size)
    with tempfile.TemporaryDirectory() as folder:
        export_model(model, folder)
        predictor = Predictor(folder, device, enable_mkldnn, cpu_threads)
        s, other = _timed(lambda: predictor(x), warmup, repeat, device, theirs)
        used = bool(predictor.meta.get("onednn")) if enable_mkldnn is None else enable_mkldnn
    return {"s_per_batch": s, "images_per_s": batch_size / s, "mkldnn": used and device == "cpu",
            "theirs_s": other}


def _official_command(python: str, repo: str, m, batch_size: int, threads: int,
                      keep_memory: bool) -> list[str]:
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "tools", "benchmark_official.py")
    return [python, script, "--repo", repo, "--light", str(int(m.light)), "--ch", str(m.ch),
            "--n_res", str(m.n_res), "--img_size", str(m.img_size),
            "--n_dis_global", str(m.n_dis_global), "--n_dis_local", str(m.n_dis_local),
            "--batch_size", str(batch_size), "--threads", str(threads)] + (
                ["--keep-memory"] if keep_memory else [])


def bench_official(python: str, repo: str, m, batch_size: int, threads: int, warmup: int,
                   repeat: int, keep_memory: bool = False) -> dict:
    """The official PyTorch step for the model config ``m``, timed by
    tools/benchmark_official.py in ``python`` (the official networks, built at m's sizes)."""
    cmd = _official_command(python, repo, m, batch_size, threads, keep_memory) + [
        "--warmup", str(warmup), "--repeat", str(repeat)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the official benchmark failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


class OfficialRunner:
    """The official networks in a second process that times one run per request, so that
    :func:`alternate` can interleave them with ours: on a shared machine whose load drifts
    over minutes, both sides of each ratio are then measured under the same load."""

    def __init__(self, python: str, repo: str, m, batch_size: int, threads: int,
                 keep_memory: bool = False):
        self.proc = subprocess.Popen(
            _official_command(python, repo, m, batch_size, threads, keep_memory) + ["--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().strip()[-500:]
            raise RuntimeError(f"the official benchmark failed: {err}")
        return json.loads(line)

    def __call__(self, job: str) -> float:
        self.proc.stdin.write(job + "\n")
        self.proc.stdin.flush()
        return self._read()["s"]

    def close(self) -> dict:
        self.proc.stdin.write("done\n")
        self.proc.stdin.flush()
        info = self._read()
        self.proc.wait()
        return info


def alternate(ours: Callable[[], object], theirs: Callable[[], float], warmup: int,
              repeat: int, device: str) -> tuple[float, float]:
    """Median times of ``ours`` and ``theirs`` (which times itself), run in turns."""
    for _ in range(warmup):
        ours()
        theirs()
    _sync(device)
    mine, other = [], []
    for _ in range(repeat):
        tic = time.perf_counter()
        ours()
        _sync(device)
        mine.append(time.perf_counter() - tic)
        other.append(theirs())
    return statistics.median(mine), statistics.median(other)
