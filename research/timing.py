"""Timing and memory of the training step and of inference, for tools/benchmark.py."""
from __future__ import annotations

import json
import os
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
    """A one-line description of the machine, for reports: the CPU's model, vendor, usable
    cores and vector extensions as detected at start-up, and the load when measured."""
    from ppugatit.device import has_gpu
    from ppugatit.kernels.cpuinfo import describe_cpu

    cpu = describe_cpu()
    load = ", load %.2f %.2f %.2f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    gpu = ""
    if has_gpu():
        gpu = ", " + paddle.device.cuda.get_device_name(0)
    return f"{cpu}{gpu}, Paddle {paddle.__version__}{load}"


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


RUNTIMES = ("dygraph", "paddle", "onnxruntime", "int8", "bf16")
LABELS = {"dygraph": "dygraph", "paddle": "Paddle Inference", "onnxruntime": "ONNX Runtime",
          "int8": "ONNX Runtime int8", "bf16": "Paddle Inference bf16"}
REDUCED = ("int8", "bf16")


def gate_pictures(img_size: int, source: str | None, folder: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(calibration, held-apart) batches for the reduced forms' quantization and gate:
    ``source``'s pictures, or the built-in demo's testA (made in ``folder``), resized."""
    from ppugatit.data.demo import ensure_demo_dataset
    from ppugatit.pipelines import PIPELINES
    from ppugatit.precision import load_batch, split_folder

    if source is None:
        source = os.path.join(ensure_demo_dataset(os.path.join(folder, "demo")), "testA")
    calib, held = split_folder(source)
    return (load_batch(calib, img_size, PIPELINES["ours"]),
            load_batch(held, img_size, PIPELINES["ours"]))


def inference_runners(model, batch_size: int, img_size: int, device: str, folder: str,
                      runtimes=RUNTIMES, enable_mkldnn: bool | None = None,
                      cpu_threads: int | None = None, ort_optimization: str = "all",
                      calibrate: str | None = None
                      ) -> tuple[dict[str, Callable[[], object]], dict]:
    """One forward of ``model``'s first translator (or sampler) per runtime, on the same input;
    the exports are written to ``folder``. The reduced forms (int8, bf16) carry their quality
    gate's figures against their float32 form, on ``calibrate``'s held-apart pictures.
    Returns (runners, what each runtime ran with)."""
    from ppugatit.export.files import ONNX_FILE
    from ppugatit.export.predictors import OnnxPredictor, Predictor
    from ppugatit.export.program import export_model

    layer, x = _inference_input(model, batch_size, img_size)
    runners, info = {}, {}
    if "dygraph" in runtimes:
        layer.eval()
        xt = paddle.to_tensor(x)

        def dygraph():
            with paddle.no_grad():
                out = layer(xt)
            (out[0] if isinstance(out, (tuple, list)) else out).numpy()
        runners["dygraph"] = dygraph
    if "paddle" in runtimes:
        export_model(model, folder)
        predictor = Predictor(folder, device, enable_mkldnn, cpu_threads)
        used = bool(predictor.meta.get("onednn")) if enable_mkldnn is None else enable_mkldnn
        info["paddle"] = {"mkldnn": used and device == "cpu"}
        runners["paddle"] = lambda: predictor(x)
    if "onnxruntime" in runtimes and model.task != "generation":
        export_model(model, folder, fmt="onnx")
        session = OnnxPredictor(os.path.join(folder, ONNX_FILE), device, cpu_threads,
                                ort_optimization, spinning=False)
        info["onnxruntime"] = {"providers": session.providers, "optimization": ort_optimization}
        runners["onnxruntime"] = lambda: session(x)
    reduced = [r for r in REDUCED if r in runtimes] if model.task != "generation" else []
    if reduced:
        from ppugatit.pipelines import PIPELINES
        from ppugatit.precision import bf16_capable, measure_gate, quantize_int8

        calibration, held = gate_pictures(img_size, calibrate, folder)
    if "int8" in reduced:
        onnx_file = os.path.join(folder, ONNX_FILE)
        if not os.path.isfile(onnx_file):
            export_model(model, folder, fmt="onnx")
        quantize_int8(onnx_file, os.path.join(folder, "int8.onnx"), calibration, "real")
        fp32 = OnnxPredictor(onnx_file, device, cpu_threads, ort_optimization, spinning=False)
        int8 = OnnxPredictor(os.path.join(folder, "int8.onnx"), device, cpu_threads,
                             ort_optimization, spinning=False)
        info["int8"] = {"gate": measure_gate(fp32, int8, held, PIPELINES["ours"])}
        runners["int8"] = lambda: int8(x)
    if "bf16" in reduced and bf16_capable() and device == "cpu":
        if not os.path.isfile(os.path.join(folder, "inference.yml")):
            export_model(model, folder)
        bf16 = Predictor(folder, device, True, cpu_threads, precision="bf16")
        info["bf16"] = {"gate": measure_gate(Predictor(folder, device, True, cpu_threads), bf16,
                                             held, PIPELINES["ours"]),
                        "mkldnn": True}
        runners["bf16"] = lambda: bf16(x)
    return runners, info


def generator_flops(model, img_size: int) -> float:
    """Forward FLOPs (2 per multiply-add) of the convolutions and linear layers of the model's
    first translator (or sampler) on one picture, counted with hooks on the layers as run."""
    layer, x = _inference_input(model, 1, img_size)
    total = [0.0]

    def count(sub, inputs, output):
        if isinstance(sub, paddle.nn.Conv2D):
            c_in, kh, kw = sub.weight.shape[1:]
            total[0] += 2 * float(np.prod(output.shape)) * c_in * kh * kw
        elif isinstance(sub, paddle.nn.Linear):
            total[0] += 2 * float(np.prod(output.shape)) * sub.weight.shape[0]
    hooks = [m.register_forward_post_hook(count) for m in layer.sublayers()
             if isinstance(m, (paddle.nn.Conv2D, paddle.nn.Linear))]
    try:
        with paddle.no_grad():
            layer(paddle.to_tensor(x))
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def onnx_profile(path: str, x: np.ndarray, runs: int, cpu_threads: int | None) -> dict:
    """Where ONNX Runtime's time goes: ms per run by operator type (its profiler's kernel
    times), the mean wall time of the same runs, and the part outside any kernel."""
    import onnxruntime as ort
    from ppugatit.export.predictors import OnnxPredictor

    predictor = OnnxPredictor(path, "cpu", cpu_threads, spinning=False)
    options = predictor.session.get_session_options()
    with tempfile.TemporaryDirectory() as folder:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, "ort")
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: x}
        session.run(None, feed)  # the warm-up run is profiled too: left out below
        walls = []
        for _ in range(runs):
            tic = time.perf_counter()
            session.run(None, feed)
            walls.append(time.perf_counter() - tic)
        with open(session.end_profiling(), encoding="utf-8") as f:
            events = json.load(f)
    runs_seen = [e for e in events if e.get("name") == "model_run"]
    first_end = runs_seen[0]["ts"] + runs_seen[0]["dur"] if runs_seen else 0
    by_op: dict[str, float] = {}
    for e in events:
        if (e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
                and e["ts"] >= first_end):
            op = e["args"]["op_name"]
            by_op[op] = by_op.get(op, 0.0) + e["dur"] / 1e3 / runs
    wall = statistics.mean(walls) * 1e3  # the mean, as the kernel times are summed over runs
    return {"wall_ms": wall, "ms_by_op": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
            "outside_kernels_ms": wall - sum(by_op.values())}


def in_turns(runners: dict[str, Callable[[], object]], theirs: Callable[[], float] | None,
             warmup: int, repeat: int, device: str) -> dict[str, list[float]]:
    """Each round runs every runner once, then ``theirs`` (which times itself): all of them
    see the same load, however the shared machine's speed drifts. Returns every timed run."""
    for _ in range(warmup):
        for run in runners.values():
            run()
        if theirs is not None:
            theirs()
    _sync(device)
    times = {name: [] for name in runners}
    if theirs is not None:
        times["official"] = []
    for _ in range(repeat):
        for name, run in runners.items():
            tic = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - tic)
        if theirs is not None:
            times["official"].append(theirs())
    return times


def speedups(times: dict[str, list[float]]) -> dict[str, dict]:
    """Per runtime: median time, and against the official run of the same rounds the ratio of
    medians and the median of the per-round ratios (robust to a slow round on a busy host)."""
    official = times.get("official")
    out = {}
    for name, ts in times.items():
        r = {"s_per_batch": statistics.median(ts), "runs": ts}
        if official and name != "official":
            r["speedup_vs_official"] = statistics.median(official) / r["s_per_batch"]
            r["paired_speedup_vs_official"] = statistics.median(
                o / t for o, t in zip(official, ts))
        out[name] = r
    return out


def _official_command(python: str, repo: str, m, batch_size: int, threads: int,
                      keep_memory: bool) -> list[str]:
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmark_official.py")
    return [python, script, "--repo", repo, "--light", str(int(m.light)), "--ch", str(m.ch),
            "--n_res", str(m.n_res), "--img_size", str(m.img_size),
            "--n_dis_global", str(m.n_dis_global), "--n_dis_local", str(m.n_dis_local),
            "--batch_size", str(batch_size), "--threads", str(threads)] + (
                ["--keep-memory"] if keep_memory else [])


def bench_official(python: str, repo: str, m, batch_size: int, threads: int, warmup: int,
                   repeat: int, keep_memory: bool = False) -> dict:
    """The official PyTorch step for the model config ``m``, timed by
    research/benchmark_official.py in ``python`` (the official networks, built at m's sizes)."""
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
