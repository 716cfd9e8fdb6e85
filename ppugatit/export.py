"""Static-graph export of a generator and Paddle Inference predictors for it.

An exported model is a folder: ``inference.json`` (Paddle 3's PIR program; older Paddle writes
``inference.pdmodel``), ``inference.pdiparams`` and ``inference.yml``, which records what
deploy needs to know without the training config (task, direction, img_size or z_dim, outputs).

On CPU, Paddle Inference runs the program through oneDNN when the model's class says its
numbers hold there (``GANModel.onednn_inference``, recorded in ``inference.yml`` as ``onednn``):
the U-GAT-IT generator gives the dygraph numbers within 1e-4 and runs about 5x faster than
without. With Paddle 3.3.1, oneDNN crashes on NICE-GAN's spectral-normed encoder and gives wrong
numbers (2e-2) on SAGAN's transposed convolutions, so their exports run without it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
import yaml

from ppugatit.errors import UserError
from ppugatit.inference import InferenceError, z_dim
from ppugatit.malloc import keep_freed_memory
from ppugatit.utils import atomic_write_text

PREFIX = "inference"
META = PREFIX + ".yml"


class ExportError(UserError):
    pass


class _Outputs(nn.Layer):
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


def export_model(model, output_dir: str, direction: str | None = None,
                 with_heatmap: bool = False) -> dict:
    """Save ``model``'s translator for ``direction`` (or its sampler) with a free batch size.

    The files appear together: they are written to a temporary folder inside ``output_dir``
    and renamed into place. Returns the metadata written to ``inference.yml``.
    """
    model.eval()
    m = model.cfg.model
    meta = {"model": m.name, "task": model.task, "onednn": model.onednn_inference}
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
        layer = _Outputs(model.translator(direction), with_heatmap)
        meta.update(input="image", direction=direction, img_size=int(m.img_size),
                    outputs=["image", "heatmap"] if with_heatmap else ["image"])
        spec = paddle.static.InputSpec([None, 3, m.img_size, m.img_size], "float32",
                                       name="image")
    layer.eval()
    static = paddle.jit.to_static(layer, input_spec=[spec], full_graph=True)
    os.makedirs(output_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export.", dir=output_dir)
    try:
        paddle.jit.save(static, os.path.join(tmp, PREFIX))
        for name in os.listdir(tmp):
            os.replace(os.path.join(tmp, name), os.path.join(output_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_text(os.path.join(output_dir, META), yaml.safe_dump(meta, sort_keys=False))
    return meta


def model_files(model_dir: str) -> tuple[str, str]:
    """``(program, params)`` of an exported model: PIR ``.json`` or legacy ``.pdmodel``."""
    params = os.path.join(model_dir, PREFIX + ".pdiparams")
    for ext in (".json", ".pdmodel"):
        program = os.path.join(model_dir, PREFIX + ext)
        if os.path.isfile(program) and os.path.isfile(params):
            return program, params
    raise ExportError(f"--model_dir {model_dir}: no {PREFIX}.json/.pdmodel with "
                      f"{PREFIX}.pdiparams; write one with tools/export_model.py")


def read_meta(model_dir: str) -> dict:
    path = os.path.join(model_dir, META)
    if not os.path.isfile(path):
        raise ExportError(f"{path}: not found; export with tools/export_model.py, which "
                          f"writes it beside the model")
    with open(path, encoding="utf-8") as f:
        meta = yaml.safe_load(f)
    if not isinstance(meta, dict) or "task" not in meta or "outputs" not in meta:
        raise ExportError(f"{path}: not an export description (task, outputs missing)")
    return meta


@contextlib.contextmanager
def global_onednn_off():
    """Paddle's global ``FLAGS_use_onednn`` (which dygraph on CPU turns on, see
    ppugatit/device.py) makes a predictor pick oneDNN kernels whatever its config says, and
    some refuse our networks (layer_norm over C, H, W): the config alone must decide."""
    previous = paddle.get_flags(["FLAGS_use_onednn"])["FLAGS_use_onednn"]
    paddle.set_flags({"FLAGS_use_onednn": False})
    try:
        yield
    finally:
        paddle.set_flags({"FLAGS_use_onednn": previous})


class Predictor:
    """A Paddle Inference predictor of an exported model: ``predictor(batch)`` ->
    ``(images, heatmap or None)`` as numpy, the runner interface of :mod:`ppugatit.inference`."""

    def __init__(self, model_dir: str, device: str = "cpu", enable_mkldnn: bool | None = None,
                 cpu_threads: int | None = None):
        """``enable_mkldnn`` None: oneDNN on CPU if the export says the model's numbers hold."""
        from paddle import inference

        program, params = model_files(model_dir)
        self.meta = read_meta(model_dir)
        config = inference.Config(program, params)
        if device == "gpu":
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
            if enable_mkldnn is None:
                enable_mkldnn = bool(self.meta.get("onednn", False))
            if enable_mkldnn:
                config.enable_mkldnn()
            else:
                config.disable_mkldnn()
            if cpu_threads:
                config.set_cpu_math_library_num_threads(cpu_threads)
        config.disable_glog_info()
        try:
            with global_onednn_off():
                self.predictor = inference.create_predictor(config)
        except Exception as e:  # Paddle raises several types for a damaged or foreign model
            raise ExportError(f"{program}: Paddle Inference cannot load it "
                              f"({type(e).__name__}: {str(e).strip().splitlines()[0][:160]})"
                              ) from None

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        handle = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        x = np.ascontiguousarray(x, dtype=np.float32)
        handle.reshape(list(x.shape))
        handle.copy_from_cpu(x)
        with global_onednn_off():
            self.predictor.run()
        outs = [self.predictor.get_output_handle(n).copy_to_cpu()
                for n in self.predictor.get_output_names()]
        return outs[0], outs[1] if len(outs) > 1 else None


def export_from_weights(weights: str, output_dir: str, config: str | None = None,
                        overrides=(), direction: str | None = None,
                        with_heatmap: bool = False, check: bool = True) -> str:
    """``tools/export_model.py``: load, export, and check the export against dygraph."""
    from ppugatit.inference import dygraph_runner, load_model

    paddle.set_device("cpu")
    model = load_model(weights, config, overrides)
    meta = export_model(model, output_dir, direction, with_heatmap)
    what = (f"sampler (z_dim {meta['z_dim']})" if meta["task"] == "generation" else
            f"{meta['direction']} translator ({meta['img_size']} px, outputs "
            f"{' + '.join(meta['outputs'])})")
    line = f"exported the {meta['model']} {what} to {output_dir}"
    if not check:
        return line
    rng = np.random.default_rng(0)
    if meta["task"] == "generation":
        x = rng.standard_normal((2, meta["z_dim"]), dtype=np.float32)
        ref = dygraph_runner(model.sampler())(x)
    else:
        size = meta["img_size"]
        x = rng.uniform(-1, 1, (2, 3, size, size)).astype(np.float32)
        ref = dygraph_runner(model.translator(meta["direction"]))(x)
    got = Predictor(output_dir)(x)
    diff = max(float(np.abs(g - r).max()) for g, r in zip(got, ref) if g is not None)
    if diff > 1e-4:
        raise InferenceError(f"{output_dir}: the exported model differs from the dygraph one "
                             f"by {diff:.3e} (> 1e-4); please report this with your Paddle "
                             f"version ({paddle.__version__})")
    return line + f" (checked with Paddle Inference: max diff {diff:.1e} vs dygraph)"


def infer_exported(model_dir: str, output: str, source: str | None = None,
                   heatmap: bool = False, keep_size: bool = False, batch_size: int = 1,
                   device: str | None = None, enable_mkldnn: bool | None = None,
                   cpu_threads: int | None = None, num: int | None = None, seed: int = 0,
                   stream=None, faces=None) -> str:
    """``deploy/python/infer.py``: what ``tools/infer.py`` does, with an exported model."""
    from ppugatit.inference import (collect_inputs, resolve_device, sample_files,
                                    translate_files)

    device = resolve_device(device)  # the predictor's own config places it; no global flags
    if device == "cpu":
        keep_freed_memory()
    predictor = Predictor(model_dir, device, enable_mkldnn, cpu_threads)
    meta = predictor.meta
    if meta["task"] == "generation":
        if num is None:
            raise InferenceError("this is an exported generation model: give --num N (and "
                                 "--seed S) instead of --input")
        summary = sample_files(lambda z: predictor(z)[0], int(meta["z_dim"]), output, num,
                               seed, batch_size, stream)
        return summary.line("sampled", output)
    if source is None:
        raise InferenceError("--input is required: an image, a folder or a glob")
    if heatmap and "heatmap" not in meta["outputs"]:
        raise InferenceError(f"--heatmap: {model_dir} was exported without the heatmap; "
                             f"export again with --with-heatmap")
    summary = translate_files(collect_inputs(source), predictor, int(meta["img_size"]), output,
                              batch_size, heatmap, keep_size, None, stream, faces)
    return summary.line(f"translated ({meta['direction']})", output)
