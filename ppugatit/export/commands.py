"""What tools/export_model.py, deploy/python/infer.py and tools/infer.py --runtime run:
export from a weights file (checked against dygraph), and translate with an export."""
from __future__ import annotations

import os

import paddle

from ppugatit.device import Runtime, keep_memory_for_inference, resolve_device
from ppugatit.export.files import ONNX_FILE, has_paddle_model, onnx_path
from ppugatit.export.predictors import OnnxPredictor, Predictor, choose_runtime
from ppugatit.forms import open_predictor
from ppugatit.export.program import check_input, dygraph_reference, export_model, max_difference
from ppugatit.export.reduced import export_reduced, save_half_weights
from ppugatit.inference import InferenceError
from ppugatit.pipelines import PIPELINES

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
    x = check_input(meta)
    ref = dygraph_reference(model, meta)(x)
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
    from ppugatit.inference import Options, sample_files, translate_inputs

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
    options = Options(int(meta["img_size"]), batch_size, heatmap, keep_size, faces,
                      PIPELINES[meta.get("pipeline", "ours")])
    return translate_inputs(source, predictor, output, options, None, stream,
                            f"translated ({meta['direction']})")


def exported_for(weights: str) -> str:
    """The export folder deploy reads for ``weights``: the folder or .onnx itself, or the
    ``inference`` folder beside the weights file (where the README's export command writes)."""
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
