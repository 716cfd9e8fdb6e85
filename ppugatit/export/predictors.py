"""The runtimes an exported generator runs under, and which one deploy picks.

Both give predictors with the runner interface of :mod:`ppugatit.inference`:
``predictor(batch) -> (images, heatmap or None)``. On CPU, Paddle Inference runs the program
through oneDNN when the model's class says its numbers hold there (``GANModel.onednn_inference``,
recorded in ``inference.yml`` as ``onednn``): the U-GAT-IT generator gives the dygraph numbers
within 1e-4 and runs about 5x faster than without. With Paddle 3.3.1, oneDNN crashes on
NICE-GAN's spectral-normed encoder and gives wrong numbers (2e-2) on SAGAN's transposed
convolutions, so their exports run without it.
"""
from __future__ import annotations

import numpy as np

from ppugatit.export.files import (ONNX_FILE, ExportError, RuntimeChoiceError, has_paddle_model,
                                   model_files, onnx_path, read_meta, read_onnx_meta)
from ppugatit.kernels.cpu import onednn_flag
from ppugatit.kernels.cpuinfo import cpu_features

RUNTIMES = ("auto", "paddle", "onnxruntime")


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
