"""Where the step runs: the GPU when there is one, else the CPU with oneDNN convolutions."""
from __future__ import annotations

import os

import paddle

from ppugatit.errors import ConfigError
from ppugatit.layers import use_onednn_conv
from ppugatit.malloc import keep_freed_memory


def setup_device(device: str = "auto", cpu_threads: int = 0, processes: int = 1,
                 onednn: bool = True, keep_memory: bool = True) -> str:
    """Select ``device`` ('auto', 'cpu' or 'gpu') and return the one in use.

    On CPU the math library gets ``cpu_threads`` threads (0: the cores shared among
    ``processes`` processes on this machine); with ``onednn``, convolutions go through
    oneDNN: 3-10x faster training steps, about twice the memory; with ``keep_memory``, freed
    memory is reused instead of unmapped (ppugatit/malloc.py): up to a third off a step at
    256 px (docs/benchmarks.md).
    """
    if device not in ("auto", "cpu", "gpu"):
        raise ConfigError(f"train.device must be auto, cpu or gpu, got '{device}'")
    has_gpu = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "gpu" and not has_gpu:
        raise ConfigError("train.device is gpu but this Paddle build sees no GPU; install "
                          "paddlepaddle-gpu or set train.device=cpu")
    if device == "gpu" or (device == "auto" and has_gpu):
        paddle.set_device("gpu")
        use_onednn_conv(False)
        return "gpu"
    paddle.set_device("cpu")
    if keep_memory:
        keep_freed_memory()
    threads = cpu_threads or max(1, (os.cpu_count() or 1) // max(processes, 1))
    paddle.base.core.set_num_threads(threads)
    use_onednn_conv(onednn)
    return "cpu"
