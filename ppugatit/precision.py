"""Reduced-precision forms of an exported translator, each kept only behind a quality gate.

Three forms beside the float32 export (docs/inference.md, "Reduced precision"):

- ``int8``: ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8
  activations, the U8S8 pair MLAS runs fastest on x86), calibrated on real pictures. The first
  and last convolutions (the picture's three channels in and out) and the CAM/MLP matrix
  products that produce every AdaLIN's gamma and beta stay float32.
- ``bf16``: Paddle Inference with oneDNN bfloat16, on CPUs with avx512_bf16 or AMX (ONNX
  Runtime's CPU provider has no bfloat16 convolution).
- ``fp16``: an ONNX float16 graph (float32 in and out) for ONNX Runtime CUDA / TensorRT; it
  also runs on CPU, which is how the gate measures it here.

The gate translates held-apart pictures (never the calibration ones) with the float32 form and
the reduced one under the same runtime and compares the 0..255 pixels: mean and max |difference|
and PSNR. Below :data:`GATE` the export is refused and nothing is written.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import numpy as np

from ppugatit.errors import UserError
from ppugatit.kernels.cpuinfo import cpu_features

PRECISIONS = ("fp32", "int8", "bf16", "fp16")
REDUCED_ONNX = {"int8": "inference_int8.onnx", "fp16": "inference_fp16.onnx"}
BF16_KEY = "bf16"  # the bf16 form's gate, recorded in inference.yml beside the Paddle program
MAX_CALIBRATION = 64
MAX_HELD_APART = 32


@dataclass(frozen=True)
class Gate:
    """The bar a reduced form must clear on held-apart pictures (docs/inference.md says why
    these values: they pass the demo run's int8 and both trained models' bf16 and fp16, and
    refuse a blank-calibrated int8, whose pictures are a flat colour, and the quality-task
    model's int8, whose background texture it redraws)."""
    min_psnr_db: float = 32.0
    max_mean_abs: float = 2.5


GATE = Gate()


class PrecisionError(UserError):
    pass


def bf16_capable(features: dict | None = None) -> bool:
    f = features or cpu_features()
    return bool(f["avx512_bf16"] or f["amx"])


def split_pictures(files: list[str], calibrate: int | None = None) -> tuple[list[str], list[str]]:
    """Calibration pictures and held-apart ones from a sorted list: the first half (at most
    :data:`MAX_CALIBRATION`, or ``calibrate``) calibrates, the rest (at most
    :data:`MAX_HELD_APART`) is held apart for the gate, so the two never overlap."""
    files = sorted(files)
    if len(files) < 2:
        raise PrecisionError(f"--calibrate: {len(files)} picture(s) found; the gate needs at "
                             f"least 2 (one to calibrate, one held apart), 16 or more is better")
    n = min(calibrate or MAX_CALIBRATION, len(files) // 2 + len(files) % 2, len(files) - 1)
    return files[:n], files[n:n + MAX_HELD_APART]


def split_folder(source: str, calibrate: int | None = None) -> tuple[list[str], list[str]]:
    """:func:`split_pictures` of the pictures ``source`` (a folder, a picture or a glob) names."""
    from ppugatit.inference import collect_inputs

    return split_pictures([f for f, _ in collect_inputs(source)], calibrate)


def load_batch(files: list[str], img_size: int, pipeline) -> np.ndarray:
    from ppugatit.data.image_io import read_image

    pictures = []
    for path in files:
        img = read_image(path)
        if img is None:
            raise PrecisionError(f"--calibrate: {path} is not a readable picture; remove it "
                                 f"or point --calibrate at another folder")
        pictures.append(pipeline.prepare(img, img_size))
    return np.stack(pictures).astype(np.float32)


def gate_figures(reference: np.ndarray, reduced: np.ndarray, pipeline,
                 gate: Gate = GATE) -> dict:
    """Mean and max |difference| (0..255) and PSNR of two translations of the same pictures,
    read out as pixels the way ``pipeline`` writes them; ``passed`` against ``gate``."""
    a = pipeline.to_uint8(reference).astype(np.float64)
    b = pipeline.to_uint8(reduced).astype(np.float64)
    diff = np.abs(a - b)
    mse = float((diff ** 2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)
    figures = {"mean_abs": round(float(diff.mean()), 4), "max_abs": float(diff.max()),
               "psnr_db": round(psnr, 2) if math.isfinite(psnr) else 99.0,
               "pictures": int(reference.shape[0]),
               "min_psnr_db": gate.min_psnr_db, "max_mean_abs": gate.max_mean_abs}
    figures["passed"] = bool(figures["psnr_db"] >= gate.min_psnr_db
                             and figures["mean_abs"] <= gate.max_mean_abs)
    return figures


def describe(figures: dict) -> str:
    return (f"mean |diff| {figures['mean_abs']:.2f}/255, max {figures['max_abs']:.0f}/255, "
            f"PSNR {figures['psnr_db']:.1f} dB on {figures['pictures']} held-apart pictures")


def translate(predictor, x: np.ndarray, batch: int = 4) -> np.ndarray:
    return np.concatenate([predictor(x[i:i + batch])[0] for i in range(0, len(x), batch)])


def measure_gate(fp32, reduced, held: np.ndarray, pipeline, gate: Gate = GATE) -> dict:
    """:func:`gate_figures` of the float32 and the reduced predictor on the held-apart batch."""
    return gate_figures(translate(fp32, held), translate(reduced, held), pipeline, gate)


def quantize_int8(fp32_path: str, out_path: str, calibration: np.ndarray, input_name: str
                  ) -> list[str]:
    """Write the int8 QDQ graph of ``fp32_path``; returns the nodes kept in float32."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Pictures(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i:i + 1] for i in range(len(calibration)))

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {input_name: x}

    graph = onnx.load(fp32_path, load_external_data=False).graph
    convs = [n.name for n in graph.node if n.op_type == "Conv"]
    keep = convs[:1] + convs[-1:] + [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    quantize_static(fp32_path, out_path, Pictures(), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, nodes_to_exclude=keep)
    return keep


def convert_fp16(fp32_path: str, out_path: str) -> None:
    """Write the float16 graph of ``fp32_path`` with float32 input and output.

    paddle2onnx gives each nearest up-sampling a ``Resize`` with empty roi and scales beside its
    sizes; the converter would put a Cast on those empty inputs, and ONNX Runtime then cannot
    tell that scales is empty. They are optional inputs, so they are dropped first."""
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(fp32_path)
    for node in model.graph.node:
        if node.op_type == "Resize" and len(node.input) == 4 and node.input[3]:
            node.input[1] = node.input[2] = ""
    with warnings.catch_warnings():  # one line per constant clipped to float16's range
        warnings.simplefilter("ignore", UserWarning)
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, out_path)


def set_onnx_meta(path: str, meta: dict) -> None:
    import onnx

    from ppugatit.export.files import ONNX_META_KEY

    model = onnx.load(path)
    props = [p for p in model.metadata_props if p.key != ONNX_META_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    model.metadata_props.add(key=ONNX_META_KEY, value=json.dumps(meta))
    onnx.save(model, path)
