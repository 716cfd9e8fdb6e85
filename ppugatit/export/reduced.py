"""Smaller and faster forms beside the float32 export: float16 weight storage, and int8 /
bf16 / fp16 programs behind their quality gate (:mod:`ppugatit.precision`)."""
from __future__ import annotations

import os

import yaml

from ppugatit.export.files import META, ONNX_FILE, ExportError, read_meta
from ppugatit.export.predictors import OnnxPredictor, Predictor
from ppugatit.export.program import check_input, dygraph_reference, export_layer, export_model, max_difference
from ppugatit.pipelines import pipeline_for
from ppugatit.utils import atomic_write_text

HALF_WEIGHTS = "weights_fp16.pdparams"


PIXEL = 2 / 255  # one level of 255 in the [-1, 1] scale of the generators' output


def save_half_weights(model, output_dir: str, config: dict) -> tuple[str, float]:
    """Every network's weights stored as float16 (half the file; loading casts them back to
    float32, and computing stays float32), written only if the translation of the check
    inputs (each direction) moves by at most one level of 255 per pixel. Returns (path, that
    largest move)."""
    from ppugatit import checkpoint
    from ppugatit.config import save_config
    from ppugatit.models.table import MODELS

    half = {name: {k: v.astype("float16") for k, v in state.items()}
            for name, state in model.weights().items()}
    restored = MODELS[model.cfg.model.name](model.cfg)
    restored.load_weights(half, HALF_WEIGHTS)
    restored.eval()
    diff = 0.0
    for direction in (model.directions if model.task != "generation" else [None]):
        meta = export_layer(model, direction, False)[2]
        x = check_input(meta, 4)
        diff = max(diff, max_difference(dygraph_reference(restored, meta)(x),
                                        dygraph_reference(model, meta)(x)))
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
