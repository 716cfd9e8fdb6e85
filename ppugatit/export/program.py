"""Static-graph export of a generator (or SAGAN's sampler) with a free batch size, for Paddle
Inference or, through :mod:`ppugatit.export.onnx_file`, as ONNX."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
import yaml

from ppugatit.export.files import META, ONNX_FILE, PREFIX, ExportError
from ppugatit.export.onnx_file import to_onnx
from ppugatit.inference import z_dim
from ppugatit.kernels.cpu import onnx_graph
from ppugatit.pipelines import pipeline_for
from ppugatit.utils import atomic_write_text

FORMATS = ("paddle", "onnx")


class Outputs(nn.Layer):
    """The translator with the heatmap kept or dropped (a static graph has fixed outputs)."""

    def __init__(self, layer: nn.Layer, with_heatmap: bool):
        super().__init__()
        self.layer = layer
        self.with_heatmap = with_heatmap

    def forward(self, x: paddle.Tensor):
        images, heatmap = self.layer(x)
        if self.with_heatmap:
            return images, heatmap
        return images


def export_layer(model, direction: str | None, with_heatmap: bool):
    """The layer to trace, its input spec and the export description."""
    model.eval()
    m = model.cfg.model
    meta = {"model": m.name, "task": model.task, "onednn": model.onednn_inference,
            "weights": weights_digest(model)}
    if model.task == "generation":
        if with_heatmap:
            raise ExportError("--with-heatmap: a generation model has no heatmap")
        layer = model.sampler()
        meta.update(input="z", z_dim=z_dim(model), outputs=["image"])
        spec = paddle.static.InputSpec([None, meta["z_dim"]], "float32", name="z")
    else:
        direction = direction or model.directions[0]
        if direction not in model.directions:
            raise ExportError(f"--direction must be one of {list(model.directions)}, "
                              f"got '{direction}'")
        layer = Outputs(model.translator(direction), with_heatmap)
        meta.update(input="image", direction=direction, img_size=int(m.img_size),
                    outputs=["image", "heatmap"] if with_heatmap else ["image"],
                    pipeline=pipeline_for(model.cfg).name)
        spec = paddle.static.InputSpec([None, 3, m.img_size, m.img_size], "float32",
                                       name="image")
    layer.eval()
    return layer, spec, meta


def weights_digest(model) -> str:
    """A short hash of every network's weights: a reduced form counts only beside the float32
    export of the same weights (``ppugatit.forms``)."""
    digest = hashlib.sha256()
    for net, state in sorted(model.weights().items()):
        for key, value in sorted(state.items()):
            digest.update(f"{net}.{key}".encode())
            digest.update(np.ascontiguousarray(value.numpy()).tobytes())
    return digest.hexdigest()[:16]


def save_program(layer: nn.Layer, spec, folder: str) -> None:
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=[spec], full_graph=True),
                    os.path.join(folder, PREFIX))


def export_model(model, output_dir: str, direction: str | None = None,
                 with_heatmap: bool = False, fmt: str = "paddle") -> dict:
    """Save ``model``'s translator for ``direction`` (or its sampler) with a free batch size,
    for Paddle Inference (``fmt`` "paddle") or as ``inference.onnx`` ("onnx").

    The files appear together: they are written to a temporary folder inside ``output_dir``
    and renamed into place. Returns the metadata written to ``inference.yml`` (or, for ONNX,
    into the file's metadata).
    """
    if fmt not in FORMATS:
        raise ExportError(f"--format must be one of {list(FORMATS)}, got '{fmt}'")
    if fmt == "onnx" and model.task == "generation":
        raise ExportError(f"--format onnx: the {model.cfg.model.name} sampler's transposed "
                          f"convolutions convert 2.6e-3 away from dygraph under paddle2onnx "
                          f"2.1; export it for Paddle Inference (--format paddle)")
    layer, spec, meta = export_layer(model, direction, with_heatmap)
    os.makedirs(output_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export.", dir=output_dir)
    try:
        if fmt == "onnx":
            del meta["onednn"]
            with onnx_graph():
                save_program(layer, spec, tmp)
            to_onnx(tmp, meta, os.path.join(output_dir, ONNX_FILE))
            return meta
        save_program(layer, spec, tmp)
        for name in os.listdir(tmp):
            os.replace(os.path.join(tmp, name), os.path.join(output_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_text(os.path.join(output_dir, META), yaml.safe_dump(meta, sort_keys=False))
    return meta


def check_input(meta: dict, batch: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    if meta["task"] == "generation":
        return rng.standard_normal((batch, meta["z_dim"]), dtype=np.float32)
    size = meta["img_size"]
    return rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)


def dygraph_reference(model, meta: dict):
    from ppugatit.inference import dygraph_runner

    layer = model.sampler() if meta["task"] == "generation" else model.translator(
        meta["direction"])
    return dygraph_runner(layer)


def max_difference(got, ref) -> float:
    return max(float(np.abs(g - r).max()) for g, r in zip(got, ref) if g is not None)
