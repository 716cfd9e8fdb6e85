"""The forms an export folder holds (runtime x precision) and which one deploy runs.

A folder written by ``tools/export_model.py`` may hold a float32 Paddle program, a float32
ONNX file and the reduced forms of :mod:`ppugatit.precision`, each of which passed its quality
gate when it was written (a refused one is never written). Deploy runs:

- the form asked for (``--runtime`` and ``--precision``), or
- among float32 forms only, the rule of :func:`ppugatit.export.predictors.choose_runtime` (ONNX Runtime,
  measured faster at every size), or
- where a reduced form is among them, the fastest on this machine: each candidate is timed
  once on a batch of one and the times are cached in ``speeds.json`` beside the export, keyed
  by the CPU and the runtimes' versions, so another machine measures again.

A reduced ONNX form counts only beside the float32 ONNX of the same weights and direction
(an earlier export's leftover is ignored).
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

import numpy as np

from ppugatit.errors import UserError
from ppugatit.export.files import ONNX_FILE, has_paddle_model, onnx_path, read_onnx_meta
from ppugatit.export.predictors import (OnnxPredictor, Predictor, choose_runtime,
                                        onnxruntime_available)
from ppugatit.kernels.cpuinfo import cpu_features, describe_cpu
from ppugatit.precision import BF16_KEY, PRECISIONS, REDUCED_ONNX, bf16_capable

SPEEDS = "speeds.json"


class FormError(UserError):
    pass


@dataclass(frozen=True)
class Form:
    runtime: str    # "paddle" or "onnxruntime"
    precision: str  # one of PRECISIONS
    path: str       # the .onnx file, or the Paddle folder
    gate: dict | None = None  # None for float32

    @property
    def name(self) -> str:
        return f"{self.runtime}/{self.precision}"


def _paddle_meta(folder: str) -> dict:
    import yaml

    try:
        with open(os.path.join(folder, "inference.yml"), encoding="utf-8") as f:
            return yaml.safe_load(f) or {}
    except OSError:
        return {}


def forms(model: str) -> list[Form]:
    """Every form ``model`` (a folder, or one .onnx file) holds, float32 first."""
    if model.lower().endswith(".onnx"):
        path = onnx_path(model)
        if not path:
            return []
        meta = read_onnx_meta(path)
        return [Form("onnxruntime", meta.get("precision", "fp32"), path, meta.get("gate"))]
    found = []
    if has_paddle_model(model):
        found.append(Form("paddle", "fp32", model))
        gate = _paddle_meta(model).get(BF16_KEY)
        if gate and gate.get("passed"):
            found.append(Form("paddle", "bf16", model, gate))
    if onnx_path(model):
        fp32 = os.path.join(model, ONNX_FILE)
        found.append(Form("onnxruntime", "fp32", fp32))
        same = {k: read_onnx_meta(fp32).get(k) for k in ("weights", "direction")}
        for precision, name in REDUCED_ONNX.items():
            path = os.path.join(model, name)
            if not os.path.isfile(path):
                continue
            meta = read_onnx_meta(path)
            gate = meta.get("gate")
            if gate and gate.get("passed") and all(meta.get(k) == v for k, v in same.items()):
                found.append(Form("onnxruntime", precision, path, gate))
    return found


def machine_key() -> str:
    import onnxruntime
    import paddle

    return (f"{describe_cpu()}; paddle {paddle.__version__}; onnxruntime "
            f"{onnxruntime.__version__}")


def _read_speeds(model: str, key: str) -> dict:
    try:
        with open(os.path.join(model, SPEEDS), encoding="utf-8") as f:
            cached = json.load(f)
    except (OSError, ValueError):
        return {}
    return cached.get("seconds", {}) if cached.get("machine") == key else {}


def _write_speeds(model: str, key: str, seconds: dict, stream: TextIO) -> None:
    from ppugatit.utils import atomic_write_text

    try:
        atomic_write_text(os.path.join(model, SPEEDS), json.dumps(
            {"machine": key, "seconds": seconds}, indent=1) + "\n")
    except OSError as e:
        print(f"note: could not cache the timings in {model}/{SPEEDS} ({e.strerror}); they "
              f"are measured again next time", file=stream)


def time_form(predictor, x: np.ndarray, repeat: int = 3) -> float:
    predictor(x)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        predictor(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def candidates(model: str, runtime: str = "auto", precision: str = "auto",
               device: str | None = "cpu") -> list[Form]:
    """The forms deploy may run for these choices; raises naming what the folder has."""
    if precision != "auto" and precision not in PRECISIONS:
        raise FormError(f"--precision must be auto or one of {list(PRECISIONS)}, "
                        f"got '{precision}'")
    choose_runtime(model, runtime)  # the runtime's own checks and messages
    have = forms(model)
    if not onnxruntime_available():
        have = [f for f in have if f.runtime != "onnxruntime"]
    chosen = [f for f in have if runtime in ("auto", f.runtime)
              and precision in ("auto", f.precision)]
    if precision == "auto":
        on_gpu = device == "gpu"
        chosen = [f for f in chosen if f.precision != "bf16" or (not on_gpu and bf16_capable())]
        chosen = [f for f in chosen if f.precision != "fp16" or on_gpu]
    if not chosen:
        what = ", ".join(f.name for f in have) or "nothing"
        raise FormError(f"--runtime {runtime} --precision {precision}: {model} holds {what}; "
                        f"export that form with tools/export_model.py --precision {precision}"
                        if precision not in ("auto", "fp32") else
                        f"--runtime {runtime}: {model} holds {what}")
    return chosen


def pick(model: str, open_form: Callable[[Form], object], runtime: str = "auto",
         precision: str = "auto", device: str | None = "cpu", stream: TextIO | None = None):
    """``(form, predictor)`` that deploy runs; see the module docstring for the rule."""
    stream = stream or sys.stderr
    chosen = candidates(model, runtime, precision, device)
    if len(chosen) > 1 and all(f.precision == "fp32" for f in chosen):
        rule = choose_runtime(model, runtime)
        chosen = [f for f in chosen if f.runtime == rule]
    if len(chosen) == 1:
        return chosen[0], open_form(chosen[0])
    key = machine_key() + f"; device {device}; threads {cpu_features()['cores']}"
    cached = _read_speeds(model, key)
    seconds = dict(cached)
    predictors, x = {}, None
    for form in chosen:
        predictors[form.name] = open_form(form)
        if form.name not in seconds:
            if x is None:
                x = _timing_input(predictors[form.name].meta)
            seconds[form.name] = time_form(predictors[form.name], x)
    measured = {f.name: seconds[f.name] for f in chosen}
    best = min(chosen, key=lambda f: measured[f.name])
    if set(measured) - set(cached):
        _write_speeds(model, key, seconds, stream)
    print(f"runtime: {best.name} ({measured[best.name] * 1e3:.0f} ms a picture), the fastest "
          f"passing form here: " + ", ".join(f"{n} {s * 1e3:.0f} ms" for n, s in
                                              sorted(measured.items(), key=lambda kv: kv[1])),
          file=stream)
    return best, predictors[best.name]


def _timing_input(meta: dict) -> np.ndarray:
    size = int(meta["img_size"])
    return np.random.default_rng(0).uniform(-1, 1, (1, 3, size, size)).astype(np.float32)


def open_predictor(model: str, runtime: str = "auto", device: str | None = "cpu",
                   enable_mkldnn: bool | None = None, cpu_threads: int | None = None,
                   precision: str = "auto", stream=None):
    """A predictor of the form :func:`pick` picks in ``model``; its ``runtime`` and
    ``precision`` attributes say which."""
    def open_form(form):
        if form.runtime == "onnxruntime":
            return OnnxPredictor(form.path, device, cpu_threads)
        return Predictor(form.path, device, enable_mkldnn, cpu_threads, form.precision)

    form, predictor = pick(model, open_form, runtime, precision, device, stream)
    predictor.runtime, predictor.precision = form.runtime, form.precision
    return predictor
