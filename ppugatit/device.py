"""Process state, set in one place: the device, the CPU threads, the allocator, and which CPU
kernels answer the layers (``ppugatit/kernels``).

Everything else asks here: :func:`has_gpu` and :func:`resolve_device` are the only GPU
check and device validator; :func:`setup_device` is the only function that changes the
process's settings, and :func:`restore_device` undoes what it did.
"""
from __future__ import annotations

import os

import paddle

from ppugatit.errors import ConfigError
from ppugatit.kernels import cpu as kernels
from ppugatit.kernels.cpuinfo import cpu_features
from ppugatit.kernels.malloc import keep_freed_memory

_SAVED: list[dict] = []


def has_gpu() -> bool:
    """Whether this Paddle build sees a GPU."""
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def resolve_device(device: str | None, key: str = "--device") -> str:
    """``device`` ("cpu", "gpu", or "auto"/None for the GPU when Paddle has one) checked and
    resolved; errors name ``key``, the setting it came from."""
    if device not in (None, "auto", "cpu", "gpu"):
        raise ConfigError(f"{key} must be auto, cpu or gpu, got '{device}'")
    if device == "gpu" and not has_gpu():
        raise ConfigError(f"{key} gpu: this Paddle has no GPU (a CPU build, or no device "
                          f"visible); set {key} cpu or install paddlepaddle-gpu")
    return "gpu" if device == "gpu" or (device in (None, "auto") and has_gpu()) else "cpu"


def cpu_kernel_defaults(onednn: bool = True, fast_kernels: bool = True) -> dict[str, bool]:
    """Which CPU kernels to use: every one, since each paid or broke even in its A/B on both
    CPU families (ppugatit/kernels/__init__.py), unless ``fast_kernels`` is off; oneDNN
    convolutions only with ``onednn``."""
    switches = {name: fast_kernels for name in kernels.KERNELS}
    switches["onednn_conv"] = fast_kernels and onednn
    return switches


def onednn_min_flops(features: dict | None = None) -> float:
    """The size from which a convolution repays a oneDNN program, by what the CPU offers."""
    f = features or cpu_features()
    if f["vendor"] == "GenuineIntel" and f["avx512"]:
        return kernels.ONEDNN_MIN_FLOPS_AVX512_INTEL
    return kernels.ONEDNN_MIN_FLOPS_DEFAULT


def setup_device(device: str | None = "auto", cpu_threads: int = 0, processes: int = 1,
                 onednn: bool = True, keep_memory: bool = True, fast_kernels: bool = True,
                 key: str = "train.device") -> str:
    """Select ``device`` ('auto', 'cpu' or 'gpu') and return the one in use.

    On CPU the math library gets ``cpu_threads`` threads (0: the cores shared among
    ``processes`` processes on this machine); with ``onednn``, convolutions go through
    oneDNN: 3-10x faster training steps, about twice the memory; with ``keep_memory``, freed
    memory is reused instead of unmapped (``ppugatit/kernels/malloc.py``): up to a third off a
    step at 256 px; ``fast_kernels`` off computes every layer by its reference code.
    """
    chosen = resolve_device(device, key)
    _SAVED.append({"device": paddle.get_device(), "min_flops": kernels.ONEDNN_MIN_FLOPS,
                   "kernels": {name: kernels.enabled(name) for name in kernels.KERNELS}})
    if chosen == "gpu":
        paddle.set_device("gpu")
        kernels.configure(**cpu_kernel_defaults(onednn=False, fast_kernels=fast_kernels))
        return "gpu"
    paddle.set_device("cpu")
    if keep_memory:
        keep_freed_memory()
    paddle.base.core.set_num_threads(cpu_threads or cpu_threads_for(processes))
    kernels.configure(**cpu_kernel_defaults(onednn, fast_kernels))
    kernels.ONEDNN_MIN_FLOPS = onednn_min_flops()
    return "cpu"


def cpu_threads_for(processes: int = 1) -> int:
    """This machine's cores shared among ``processes`` local processes."""
    return max(1, (os.cpu_count() or 1) // max(processes, 1))


def restore_device() -> None:
    """Undo the latest :func:`setup_device`: its device and kernels as they were. (The thread
    count has no getter in Paddle and is reset to the machine's cores; the allocator setting,
    which only keeps memory for reuse, stays.)"""
    if not _SAVED:
        return
    saved = _SAVED.pop()
    paddle.set_device(saved["device"])
    kernels.configure(**saved["kernels"])
    kernels.ONEDNN_MIN_FLOPS = saved["min_flops"]
    paddle.base.core.set_num_threads(cpu_threads_for(1))


def keep_memory_for_inference(device: str) -> None:
    """An exported model's process on CPU: reuse freed memory, as training does."""
    if device != "gpu":
        keep_freed_memory()
