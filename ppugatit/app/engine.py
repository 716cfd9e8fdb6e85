"""The model behind the web app, loaded once: any weights ppugatit reads, or an export."""
from __future__ import annotations

import os
import threading
from typing import Iterable

import numpy as np

from ppugatit.device import Runtime
from ppugatit.kernels.cpu import using
from ppugatit.inference import (InferenceError, dygraph_runner, load_model,
                                z_dim)
from ppugatit.pipelines import PIPELINES, pipeline_for
from ppugatit.export.files import ONNX_FILE
from ppugatit.visual import to_uint8

EXPORT_FILES = ("inference.json", "inference.pdmodel", "inference.pdiparams", "inference.yml")


def is_export(weights: str) -> bool:
    """A folder written by tools/export_model.py, one of its files, or an .onnx file."""
    if os.path.isdir(weights):  # else a TensorFlow checkpoint folder, say
        return any(os.path.isfile(os.path.join(weights, f)) for f in EXPORT_FILES + (ONNX_FILE,))
    return os.path.basename(weights) in EXPORT_FILES or weights.lower().endswith(".onnx")


class Engine:
    """``translate(picture, direction)`` or ``sample(seed)`` for one loaded model.

    Runners are built once per direction; a lock keeps one forward pass at a time (the web
    server answers requests on several threads; dygraph is not meant for that).
    """

    def __init__(self, weights: str, config: str | None = None, overrides: Iterable[str] = (),
                 device: str | None = None):
        self.weights = weights
        # entered for loading, and by the server for its life (tools/app.py); each request
        # thread puts its kernels in force (they are per thread)
        self.runtime = Runtime(device, key="--device")
        self.device = self.runtime.device
        self._lock = threading.Lock()
        self.form = None  # an export's runtime/precision, as ppugatit.forms picked it
        if is_export(weights):
            self._load_export(weights)
        else:
            self._load_dygraph(weights, config, overrides)

    def _load_dygraph(self, weights, config, overrides) -> None:
        with self.runtime:
            model = load_model(weights, config, overrides)
        m = model.cfg.model
        self.name, self.task = m.name, model.task
        if self.task == "generation":
            self.directions, self.img_size, self.z_dim = (), None, z_dim(model)
            self._sampler = dygraph_runner(model.sampler())
        else:
            self.directions, self.img_size, self.z_dim = tuple(model.directions), m.img_size, None
            self._runners = {d: dygraph_runner(model.translator(d)) for d in self.directions}
        self.pipeline = pipeline_for(model.cfg)

    def _load_export(self, weights) -> None:
        from ppugatit.forms import open_predictor

        model = weights if os.path.isdir(weights) or weights.lower().endswith(".onnx") else (
            os.path.dirname(weights) or ".")
        predictor = open_predictor(model, "auto", self.device)
        self.form = f"{predictor.runtime}/{predictor.precision}"
        meta = predictor.meta
        self.name, self.task = meta.get("model", "exported"), meta["task"]
        if self.task == "generation":
            self.directions, self.img_size, self.z_dim = (), None, int(meta["z_dim"])
            self._sampler = predictor
        else:
            self.directions, self.img_size = (meta["direction"],), int(meta["img_size"])
            self.z_dim = None
            self._runners = {meta["direction"]: predictor}
        self.pipeline = PIPELINES[meta.get("pipeline", "ours")]

    def describe(self) -> str:
        what = (f"samples from {self.z_dim}-d noise" if self.task == "generation" else
                f"translates {' / '.join(self.directions)} at {self.img_size} px")
        source = os.path.basename(self.weights.rstrip("/"))
        form = f" with {self.form}" if self.form else ""
        return f"{self.name} ({source}) {what}, on {self.device}{form}"

    def translate(self, picture: np.ndarray, direction: str) -> tuple[np.ndarray,
                                                                       np.ndarray | None]:
        """An RGB uint8 picture -> (translation uint8 at img_size, heatmap or None)."""
        if direction not in self.directions:
            raise InferenceError(f"direction must be one of {list(self.directions)}, "
                                 f"got '{direction}'")
        x = self.pipeline.prepare(picture, self.img_size)[None]
        with self._lock, using(self.runtime.kernels):
            fake, heat = self._runners[direction](x)
        return self.pipeline.to_uint8(fake)[0], None if heat is None else heat[0]

    def runner(self, direction: str):
        """The translator of ``direction`` with the runner interface, one call at a time."""
        if direction not in self.directions:
            raise InferenceError(f"direction must be one of {list(self.directions)}, "
                                 f"got '{direction}'")

        def run(x: np.ndarray):
            with self._lock, using(self.runtime.kernels):
                return self._runners[direction](x)
        return run

    def sample(self, seed: int) -> np.ndarray:
        """The picture ``tools/infer.py --num 1 --seed S`` writes."""
        if self.task != "generation":
            raise InferenceError(f"{self.name} translates pictures; it does not sample")
        z = np.random.default_rng(seed).standard_normal((1, self.z_dim), dtype=np.float32)
        with self._lock, using(self.runtime.kernels):
            images, _ = self._sampler(z)
        return to_uint8(images)[0]
