"""The runtimes an exported generator runs under, and which one deploy picks.

Two exported forms (``ppugatit/export.py``): a Paddle Inference folder (``inference.json`` +
``inference.pdiparams`` + ``inference.yml``) and an ONNX file (``inference.onnx``, which
carries the same description in its metadata). Both give predictors with the runner interface
of :mod:`ppugatit.inference`: ``predictor(batch) -> (images, heatmap or None)``.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ppugatit.errors import UserError
from ppugatit.kernels.cpuinfo import cpu_features

ONNX_FILE = "inference.onnx"
ONNX_META_KEY = "ppugatit"
RUNTIMES = ("auto", "paddle", "onnxruntime")


class RuntimeChoiceError(UserError):
    pass


def onnx_path(model: str) -> str | None:
    """The ONNX file ``model`` names: the file itself or ``inference.onnx`` in the folder."""
    if model.lower().endswith(".onnx"):
        return model if os.path.isfile(model) else None
    path = os.path.join(model, ONNX_FILE)
    return path if os.path.isfile(path) else None


def has_paddle_model(model: str) -> bool:
    return os.path.isdir(model) and any(
        os.path.isfile(os.path.join(model, "inference" + ext)) for ext in (".json", ".pdmodel"))


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def choose_runtime(model: str, runtime: str = "auto") -> str:
    """``paddle`` or ``onnxruntime`` for ``model`` (a folder or an .onnx file).

    ``auto``: the only form there is; where a folder has both, ONNX Runtime when it is
    installed: on CPU, in turns with Paddle Inference (oneDNN), it was the faster at 64, 128
    and 256 px, light and full, by 1.25-1.85x (docs/benchmarks.md).
    """
    if runtime not in RUNTIMES:
        raise RuntimeChoiceError(f"--runtime must be one of {list(RUNTIMES)}, got '{runtime}'")
    onnx_file, paddle_model = onnx_path(model), has_paddle_model(model)
    if not onnx_file and not paddle_model:
        raise RuntimeChoiceError(
            f"--model_dir {model}: no exported model there (inference.json/.pdmodel with "
            f"inference.pdiparams, or inference.onnx); write one with tools/export_model.py")
    if runtime == "onnxruntime" and not onnx_file:
        raise RuntimeChoiceError(f"--runtime onnxruntime: {model} has no {ONNX_FILE}; export "
                                 f"one with tools/export_model.py --format onnx")
    if runtime == "paddle" and not paddle_model:
        raise RuntimeChoiceError(f"--runtime paddle: {model} has only an ONNX model; export "
                                 f"with tools/export_model.py --format paddle, or use "
                                 f"--runtime onnxruntime")
    if runtime != "auto":
        return runtime
    return "onnxruntime" if onnx_file and onnxruntime_available() else "paddle"


def read_onnx_meta(path: str) -> dict:
    """The export description stored in the ONNX file's metadata by ``export_onnx``."""
    import onnx

    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for a damaged file
        raise RuntimeChoiceError(f"{path}: not a readable ONNX model ({type(e).__name__})"
                                 ) from None
    props = {p.key: p.value for p in model.metadata_props}
    if ONNX_META_KEY not in props:
        raise RuntimeChoiceError(f"{path}: no ppugatit description in its metadata; export it "
                                 f"with tools/export_model.py --format onnx")
    return json.loads(props[ONNX_META_KEY])


class OnnxPredictor:
    """An ONNX Runtime session of an exported model, with the runner interface.

    CPU: all graph optimisations (constant folding, conv + activation fusion, NCHWc layout),
    one intra-op thread per usable core; ``spinning`` False stops idle threads busy-waiting,
    which would steal the cores from another process (a benchmark's official side). GPU: the CUDA provider (``device`` "gpu", or None
    when this onnxruntime has it).
    """

    def __init__(self, path: str, device: str | None = "cpu", cpu_threads: int | None = None,
                 optimization: str = "all", spinning: bool = True):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeChoiceError("ONNX Runtime is not installed: pip install onnxruntime "
                                     "(onnxruntime-gpu for CUDA)") from None
        self.meta = read_onnx_meta(path)
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[optimization]
        options.intra_op_num_threads = cpu_threads or cpu_features()["cores"]
        options.log_severity_level = 3  # unused-initializer warnings of converted graphs
        if not spinning:  # idle threads sleep instead of busy-waiting for the next run
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        cuda = "CUDAExecutionProvider" in ort.get_available_providers()
        if device == "gpu" or (device is None and cuda):
            if not cuda:
                raise RuntimeChoiceError("--device gpu: this onnxruntime has no CUDA provider; "
                                         "pip install onnxruntime-gpu, or use --device cpu")
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(path, options, providers=providers)
        except Exception as e:  # ORT raises its own Fail/InvalidGraph types
            raise RuntimeChoiceError(f"{path}: ONNX Runtime cannot load it "
                                     f"({type(e).__name__}: {str(e).strip()[:160]})") from None
        self.providers = self.session.get_providers()
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outs = self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})
        return outs[0], outs[1] if len(outs) > 1 else None

