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

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
import yaml

from ppugatit.errors import UserError
from ppugatit.inference import InferenceError, z_dim
from ppugatit.pipelines import PIPELINES, pipeline_for
from ppugatit.device import Runtime, keep_memory_for_inference, resolve_device
from ppugatit.kernels.cpu import onednn_flag, onnx_graph
from ppugatit.runtime import ONNX_FILE, ONNX_META_KEY, OnnxPredictor, choose_runtime
from ppugatit.utils import atomic_write, atomic_write_text

PREFIX = "inference"
META = PREFIX + ".yml"
FORMATS = ("paddle", "onnx")
ONNX_OPSET = 17


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


def _export_layer(model, direction: str | None, with_heatmap: bool):
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
        layer = _Outputs(model.translator(direction), with_heatmap)
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


def _save_program(layer: nn.Layer, spec, folder: str) -> None:
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
    layer, spec, meta = _export_layer(model, direction, with_heatmap)
    os.makedirs(output_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".export.", dir=output_dir)
    try:
        if fmt == "onnx":
            del meta["onednn"]
            with onnx_graph():
                _save_program(layer, spec, tmp)
            to_onnx(tmp, meta, os.path.join(output_dir, ONNX_FILE))
            return meta
        _save_program(layer, spec, tmp)
        for name in os.listdir(tmp):
            os.replace(os.path.join(tmp, name), os.path.join(output_dir, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    atomic_write_text(os.path.join(output_dir, META), yaml.safe_dump(meta, sort_keys=False))
    return meta


# paddle2onnx aborts the process on an operator it cannot convert: it runs in a child
_CONVERT = """
import sys
import paddle2onnx
data = paddle2onnx.export(sys.argv[1], sys.argv[2], None, opset_version=int(sys.argv[4]),
                          enable_onnx_checker=True)
with open(sys.argv[3], "wb") as f:
    f.write(data)
"""


def _restore_leaky_relu_slopes(graph, program: str) -> None:
    """paddle2onnx 2.1 reads leaky_relu's float64 ``negative_slope`` of a PIR program as a
    float32 bit pattern (0.2 becomes 2.5e-43): put the program's slopes back, in op order."""
    def ops(node):
        if isinstance(node, dict):
            if node.get("#") == "1.leaky_relu":
                yield node
            for value in node.values():
                yield from ops(value)
        elif isinstance(node, list):
            for value in node:
                yield from ops(value)

    with open(program, encoding="utf-8") as f:
        slopes = [a["AT"]["D"] for op in ops(json.load(f)) for a in op.get("A", [])
                  if a.get("N") == "negative_slope"]
    nodes = [n for n in graph.node if n.op_type == "LeakyRelu"]
    if len(nodes) != len(slopes):
        raise ExportError(f"paddle2onnx wrote {len(nodes)} LeakyRelu nodes for the program's "
                          f"{len(slopes)} leaky_relu ops; please report this")
    for node, slope in zip(nodes, slopes):
        for attr in node.attribute:
            if attr.name == "alpha":
                attr.f = slope


def to_onnx(program_dir: str, meta: dict, path: str, opset: int = ONNX_OPSET) -> None:
    """Convert the Paddle program in ``program_dir`` with paddle2onnx, name its inputs and
    outputs after ``meta`` (input ``real`` or ``z``; a batch dimension named ``batch``), store ``meta`` in the file's
    metadata, and write it atomically to ``path``."""
    try:
        import onnx
        import paddle2onnx  # noqa: F401
    except ImportError:
        raise ExportError("--format onnx needs paddle2onnx and onnx: pip install paddle2onnx "
                          "(see requirements.txt)") from None
    program, params = model_files(program_dir)
    raw = os.path.join(program_dir, "raw.onnx")
    proc = subprocess.run([sys.executable, "-c", _CONVERT, program, params, raw, str(opset)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.isfile(raw):
        errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line]
        raise ExportError(f"paddle2onnx could not convert the {meta['model']} generator: "
                          f"{(errors or ['exit status %d' % proc.returncode])[0].strip()[:200]}")
    onnx_model = onnx.load(raw)
    graph = onnx_model.graph
    _restore_leaky_relu_slopes(graph, program)
    names = {graph.input[0].name: "real" if meta["input"] == "image" else meta["input"]}
    names.update({o.name: new for o, new in zip(graph.output, meta["outputs"])})
    for node in graph.node:
        node.input[:] = [names.get(n, n) for n in node.input]
        node.output[:] = [names.get(n, n) for n in node.output]
    for value in list(graph.input) + list(graph.output):
        value.name = names.get(value.name, value.name)
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    for value in graph.value_info:
        value.name = names.get(value.name, value.name)
    onnx_model.metadata_props.add(key=ONNX_META_KEY, value=json.dumps(meta))
    onnx.checker.check_model(onnx_model)
    atomic_write(path, lambda tmp: onnx.save(onnx_model, tmp))


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


class Predictor:
    """A Paddle Inference predictor of an exported model: ``predictor(batch)`` ->
    ``(images, heatmap or None)`` as numpy, the runner interface of :mod:`ppugatit.inference`."""

    def __init__(self, model_dir: str, device: str = "cpu", enable_mkldnn: bool | None = None,
                 cpu_threads: int | None = None, precision: str = "fp32"):
        """``enable_mkldnn`` None: oneDNN on CPU if the export says the model's numbers hold;
        ``precision`` "bf16": oneDNN's bfloat16 kernels (``ppugatit.precision``)."""
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
            if enable_mkldnn or precision == "bf16":
                config.enable_mkldnn()
                if precision == "bf16":
                    config.enable_mkldnn_bfloat16()
            else:
                config.disable_mkldnn()
            if cpu_threads:
                config.set_cpu_math_library_num_threads(cpu_threads)
        config.disable_glog_info()
        try:
            with onednn_flag(False):
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
        with onednn_flag(False):
            self.predictor.run()
        outs = [self.predictor.get_output_handle(n).copy_to_cpu()
                for n in self.predictor.get_output_names()]
        return outs[0], outs[1] if len(outs) > 1 else None


def _check_input(meta: dict, batch: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    if meta["task"] == "generation":
        return rng.standard_normal((batch, meta["z_dim"]), dtype=np.float32)
    size = meta["img_size"]
    return rng.uniform(-1, 1, (batch, 3, size, size)).astype(np.float32)


def _reference(model, meta: dict):
    from ppugatit.inference import dygraph_runner

    layer = model.sampler() if meta["task"] == "generation" else model.translator(
        meta["direction"])
    return dygraph_runner(layer)


def max_difference(got, ref) -> float:
    return max(float(np.abs(g - r).max()) for g, r in zip(got, ref) if g is not None)


HALF_WEIGHTS = "weights_fp16.pdparams"
PIXEL = 2 / 255  # one level of 255 in the [-1, 1] scale of the generators' output


def save_half_weights(model, output_dir: str, config: dict) -> tuple[str, float]:
    """Every network's weights stored as float16 (half the file; loading casts them back to
    float32, and computing stays float32), written only if the translation of the check
    inputs (each direction) moves by at most one level of 255 per pixel. Returns (path, that
    largest move)."""
    from ppugatit import checkpoint
    from ppugatit.config import save_config
    from ppugatit.models import MODELS

    half = {name: {k: v.astype("float16") for k, v in state.items()}
            for name, state in model.weights().items()}
    restored = MODELS[model.cfg.model.name](model.cfg)
    restored.load_weights(half, HALF_WEIGHTS)
    restored.eval()
    diff = 0.0
    for direction in (model.directions if model.task != "generation" else [None]):
        meta = _export_layer(model, direction, False)[2]
        x = _check_input(meta, 4)
        diff = max(diff, max_difference(_reference(restored, meta)(x),
                                        _reference(model, meta)(x)))
    if diff > PIXEL:
        raise ExportError(f"float16 storage moves this model's output by {diff * 127.5:.2f} "
                          f"levels of 255 (> 1): share the float32 weights instead")
    path = os.path.join(output_dir, HALF_WEIGHTS)
    checkpoint.save(half, path)
    save_config(config, os.path.join(output_dir, "config.yaml"))
    return path, diff


def default_calibration(model, direction: str) -> str:
    """The run's own test pictures of the direction's source domain."""
    root = model.cfg.dataset.root
    return os.path.join(root, "test" + direction[0])


def export_reduced(model, output_dir: str, precision: str, direction: str | None = None,
                   with_heatmap: bool = False, calibrate: str | None = None,
                   calibrate_count: int | None = None, gate=None) -> str:
    """Export ``model``'s float32 form and its ``precision`` form beside it, gated; returns a
    report line. Refuses (PrecisionError, nothing reduced written) below ``gate``."""
    from ppugatit.kernels.cpuinfo import cpu_features
    from ppugatit.precision import (BF16_KEY, GATE, PRECISIONS, REDUCED_ONNX,
                                    PrecisionError, bf16_capable, convert_fp16, describe,
                                    load_batch, measure_gate, quantize_int8, set_onnx_meta,
                                    split_folder)

    gate = gate or GATE
    if precision not in PRECISIONS[1:]:
        raise PrecisionError(f"--precision must be one of {list(PRECISIONS)}, got '{precision}'")
    if model.task == "generation":
        raise PrecisionError(f"--precision {precision}: only translation models have reduced "
                             f"forms; export the {model.cfg.model.name} sampler in fp32")
    direction = direction or model.directions[0]
    meta = export_model(model, output_dir, direction, with_heatmap,
                        "paddle" if precision == "bf16" else "onnx")
    if precision == "bf16" and not bf16_capable():
        return (f"--precision bf16: this CPU ({cpu_features()['model']}) has neither "
                f"avx512_bf16 nor AMX, so bfloat16 would only be emulated; exported the float32 "
                f"Paddle program to {output_dir} instead")
    if precision == "bf16" and not meta.get("onednn"):
        raise PrecisionError(f"--precision bf16 runs through oneDNN, which this "
                             f"{meta['model']} export keeps off (docs/inference.md); use "
                             f"--precision int8 or fp32")
    source = calibrate or default_calibration(model, direction)
    if not os.path.exists(source):
        raise PrecisionError(f"--calibrate {source}: no such folder; give --calibrate DIR with "
                             f"pictures of the {direction[0]} domain (16 or more)")
    calib_files, held_files = split_folder(source, calibrate_count)
    pipeline = pipeline_for(model.cfg)
    size = int(meta["img_size"])
    held = load_batch(held_files, size, pipeline)
    if precision == "bf16":
        figures = measure_gate(Predictor(output_dir), Predictor(output_dir, precision="bf16"),
                               held, pipeline, gate)
        _refuse_below(figures, precision, 0)
        described = read_meta(output_dir)
        described[BF16_KEY] = figures
        atomic_write_text(os.path.join(output_dir, META), yaml.safe_dump(described,
                                                                         sort_keys=False))
        where = os.path.join(output_dir, META)
    else:
        fp32_path = os.path.join(output_dir, ONNX_FILE)
        where = os.path.join(output_dir, REDUCED_ONNX[precision])
        tmp = where + ".partial"
        try:
            reduced_meta = {**meta, "precision": precision}
            if precision == "int8":
                calibration = load_batch(calib_files, size, pipeline)
                kept = quantize_int8(fp32_path, tmp, calibration, "real")
                reduced_meta["calibration"] = {"pictures": len(calib_files), "source": source,
                                               "float32_nodes": kept}
            else:
                convert_fp16(fp32_path, tmp)
            set_onnx_meta(tmp, reduced_meta)
            figures = measure_gate(OnnxPredictor(fp32_path), OnnxPredictor(tmp), held,
                                   pipeline, gate)
            _refuse_below(figures, precision, len(calib_files) if precision == "int8" else 0)
            set_onnx_meta(tmp, {**reduced_meta, "gate": figures})
            os.replace(tmp, where)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    used = (f"calibrated on {len(calib_files)} pictures of {source}, " if precision == "int8"
            else "")
    return (f"exported the {meta['model']} {direction} translator in {precision} to {where} "
            f"({used}gate passed: {describe(figures)}; float32 form beside it)")


def _refuse_below(figures: dict, precision: str, calibrated_on: int) -> None:
    from ppugatit.precision import MAX_CALIBRATION, PrecisionError, describe

    if figures["passed"]:
        return
    hint = {"int8": "try --precision bf16 or fp32" + (
                f", or more calibration pictures (--calibrate DIR; {calibrated_on} used)"
                if calibrated_on < MAX_CALIBRATION else ""),
            "bf16": "try --precision int8 or fp32",
            "fp16": "use the float32 export on this model"}[precision]
    raise PrecisionError(
        f"--precision {precision} refused: {describe(figures)} (the gate needs PSNR >= "
        f"{figures['min_psnr_db']:g} dB and mean <= {figures['max_mean_abs']:g}); {hint}")


def export_from_weights(weights: str, output_dir: str, config: str | None = None,
                        overrides=(), direction: str | None = None,
                        with_heatmap: bool = False, check: bool = True,
                        fmt: str = "paddle", precision: str = "fp32",
                        calibrate: str | None = None, calibrate_count: int | None = None) -> str:
    """``tools/export_model.py``: load, export, and check the export against dygraph; with a
    reduced ``precision``, the gated form beside the float32 one (``ppugatit.precision``)."""
    with Runtime("cpu"):
        return _export_from_weights(weights, output_dir, config, overrides, direction,
                                    with_heatmap, check, fmt, precision, calibrate,
                                    calibrate_count)


def _export_from_weights(weights, output_dir, config, overrides, direction, with_heatmap, check,
                         fmt, precision, calibrate, calibrate_count) -> str:
    from ppugatit.inference import load_model

    model = load_model(weights, config, overrides)
    if precision != "fp32":
        return export_reduced(model, output_dir, precision, direction, with_heatmap, calibrate,
                              calibrate_count)
    if fmt == "fp16":
        path, diff = save_half_weights(model, output_dir, model.cfg)
        return (f"wrote {path} ({os.path.getsize(path) / 2 ** 20:.1f} MB; float16 storage, "
                f"translations within {diff * 127.5:.2f} of 255 of the float32 weights) and "
                f"config.yaml beside it")
    meta = export_model(model, output_dir, direction, with_heatmap, fmt)
    what = (f"sampler (z_dim {meta['z_dim']})" if meta["task"] == "generation" else
            f"{meta['direction']} translator ({meta['img_size']} px, outputs "
            f"{' + '.join(meta['outputs'])})")
    where = os.path.join(output_dir, ONNX_FILE) if fmt == "onnx" else output_dir
    line = f"exported the {meta['model']} {what} to {where}"
    if not check:
        return line
    x = _check_input(meta)
    ref = _reference(model, meta)(x)
    runtime = "ONNX Runtime" if fmt == "onnx" else "Paddle Inference"
    got = (OnnxPredictor(where) if fmt == "onnx" else Predictor(output_dir))(x)
    diff = max_difference(got, ref)
    if diff > 1e-4:
        raise InferenceError(f"{where}: the exported model differs from the dygraph one "
                             f"by {diff:.3e} (> 1e-4) under {runtime}; please report this with "
                             f"your Paddle version ({paddle.__version__})")
    return line + f" (checked with {runtime}: max diff {diff:.1e} vs dygraph)"


def infer_exported(model_dir: str, output: str, source: str | None = None,
                   heatmap: bool = False, keep_size: bool = False, batch_size: int = 1,
                   device: str | None = None, enable_mkldnn: bool | None = None,
                   cpu_threads: int | None = None, num: int | None = None, seed: int = 0,
                   stream=None, runtime: str = "auto", faces=None, precision: str = "auto",
                   direction: str | None = None) -> str:
    """``deploy/python/infer.py``: what ``tools/infer.py`` does, with an exported model
    (``model_dir`` a folder, or an .onnx file) under Paddle Inference or ONNX Runtime."""
    from ppugatit.inference import sample_files, translate_inputs

    if choose_runtime(model_dir, runtime) == "paddle":
        device = resolve_device(device)  # the predictor's own config places it
    keep_memory_for_inference(device)
    predictor = open_predictor(model_dir, runtime, device, enable_mkldnn, cpu_threads,
                               precision, stream)
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
    if direction and direction != meta["direction"]:
        raise InferenceError(f"--direction {direction}: {model_dir} was exported for "
                             f"{meta['direction']}; export that direction with "
                             f"tools/export_model.py --direction {direction}")
    if heatmap and "heatmap" not in meta["outputs"]:
        raise InferenceError(f"--heatmap: {model_dir} was exported without the heatmap; "
                             f"export again with --with-heatmap")
    return translate_inputs(source, predictor, int(meta["img_size"]), output, batch_size,
                            heatmap, keep_size, None, stream, faces,
                            PIPELINES[meta.get("pipeline", "ours")],
                            f"translated ({meta['direction']})")


def exported_for(weights: str) -> str:
    """The export folder deploy reads for ``weights``: the folder or .onnx itself, or the
    ``inference`` folder beside the weights file (where the README's export command writes)."""
    from ppugatit.runtime import has_paddle_model, onnx_path

    if onnx_path(weights) or has_paddle_model(weights):
        return weights
    folder = os.path.join(os.path.dirname(weights) or ".", "inference")
    if not (onnx_path(folder) or has_paddle_model(folder)):
        raise InferenceError(f"--runtime: no exported model at {folder}; write one with "
                             f"python tools/export_model.py --weights {weights} --output "
                             f"{folder} --format onnx (and --precision int8), or use "
                             f"--runtime dygraph")
    return folder


def infer_beside(weights: str, output: str, source: str | None, runtime: str = "auto",
                 precision: str = "auto", direction: str | None = None, grid: bool = False,
                 **options) -> str:
    """``tools/infer.py --runtime R``: :func:`infer_exported` on the export beside ``weights``
    (``options`` as infer_exported takes them)."""
    if grid:
        raise InferenceError("--grid needs both directions, which an export does not have; "
                             "use --runtime dygraph")
    return infer_exported(exported_for(weights), output, source, runtime=runtime,
                          precision=precision, direction=direction, **options)


def open_predictor(model: str, runtime: str = "auto", device: str | None = "cpu",
                   enable_mkldnn: bool | None = None, cpu_threads: int | None = None,
                   precision: str = "auto", stream=None):
    """A predictor of the form :func:`ppugatit.forms.pick` picks in ``model``; its
    ``runtime`` and ``precision`` attributes say which."""
    from ppugatit import forms

    def open_form(form):
        if form.runtime == "onnxruntime":
            return OnnxPredictor(form.path, device, cpu_threads)
        return Predictor(form.path, device, enable_mkldnn, cpu_threads, form.precision)

    form, predictor = forms.pick(model, open_form, runtime, precision, device, stream)
    predictor.runtime, predictor.precision = form.runtime, form.precision
    return predictor
