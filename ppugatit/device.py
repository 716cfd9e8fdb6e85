"""The process settings a run needs, owned by one scoped object: :class:`Runtime`.

A run (training, inference, export, the app) enters a ``Runtime``: it selects the device, the
CPU threads, the allocator setting and which CPU kernels answer the layers
(``ppugatit/kernels``), and on exit puts back what was there before, so that whatever runs
next in the process (a test, the app's second model, a notebook cell) starts as it would have.
:func:`has_gpu` and :func:`resolve_device` are the only GPU check and device validator.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import threading

import paddle

from ppugatit.errors import ConfigError
from ppugatit.kernels import cpu as kernels
from ppugatit.kernels.cpuinfo import cpu_features
from ppugatit.kernels.malloc import default_freed_memory, keep_freed_memory


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


def cpu_kernels(device: str, onednn: bool = True, fast_kernels: bool = True,
                features: dict | None = None) -> kernels.Kernels:
    """Which CPU kernels to use: every one, since each paid or broke even in its A/B on both
    CPU families (ppugatit/kernels/__init__.py), unless ``fast_kernels`` is off; oneDNN
    convolutions only on the CPU with ``onednn``, from the size this CPU repays."""
    on = {name: fast_kernels for name in kernels.KERNELS}
    on["onednn_conv"] = fast_kernels and onednn and device == "cpu"
    return kernels.Kernels(**on, onednn_min_flops=onednn_min_flops(features) if device == "cpu"
                           else kernels.ONEDNN_MIN_FLOPS_DEFAULT)


def onednn_min_flops(features: dict | None = None) -> float:
    """The size from which a convolution repays a oneDNN program, by what the CPU offers."""
    f = features or cpu_features()
    if f["vendor"] == "GenuineIntel" and f["avx512"]:
        return kernels.ONEDNN_MIN_FLOPS_AVX512_INTEL
    return kernels.ONEDNN_MIN_FLOPS_DEFAULT


def cpu_threads_for(processes: int = 1) -> int:
    """This machine's cores shared among ``processes`` local processes."""
    return max(1, (os.cpu_count() or 1) // max(processes, 1))


@dataclasses.dataclass(frozen=True)
class _Process:
    """What a runtime set that Paddle cannot read back: the thread count and the allocator."""

    threads: int
    keep_memory: bool


# Paddle's defaults: the machine's cores, glibc's allocator as it starts
_PROCESS: contextvars.ContextVar[_Process] = contextvars.ContextVar(
    "ppugatit_process", default=_Process(cpu_threads_for(1), False))


class Runtime:
    """``with Runtime(...):`` the device, CPU threads, allocator and CPU kernels of a run.

    On CPU the math library gets ``cpu_threads`` threads (0: the cores shared among
    ``processes`` processes on this machine); with ``onednn``, convolutions go through
    oneDNN: 3-10x faster training steps, about twice the memory; with ``keep_memory``, freed
    memory is reused instead of unmapped (``ppugatit/kernels/malloc.py``): up to a third off a
    step at 256 px; ``fast_kernels`` off computes every layer by its reference code.

    The device is checked when the runtime is made (errors name ``key``); entering applies the
    settings, exiting restores those before. Entries nest and may repeat. The kernels are per
    thread (a thread the runtime did not start sees the defaults: enter the runtime there too,
    as the app does for each request); the device, threads and allocator are the process's,
    so runtimes entered at once in several threads must agree on them.
    """

    def __init__(self, device: str | None = "auto", cpu_threads: int = 0, processes: int = 1,
                 onednn: bool = True, keep_memory: bool = True, fast_kernels: bool = True,
                 key: str = "train.device"):
        self.device = resolve_device(device, key)
        cpu = self.device == "cpu"
        self.threads = (cpu_threads or cpu_threads_for(processes)) if cpu else None
        self.keep_memory = keep_memory and cpu
        self.kernels = cpu_kernels(self.device, onednn, fast_kernels)
        self._local = threading.local()  # each thread's entries, innermost last

    @classmethod
    def for_training(cls, train, processes: int = 1) -> "Runtime":
        """The runtime a config's ``train`` section asks for."""
        return cls(train.device, train.cpu_threads, processes, train.cpu_onednn,
                   train.cpu_keep_memory, train.cpu_kernels)

    def __enter__(self) -> "Runtime":
        stack = contextlib.ExitStack()
        before_device, before = paddle.get_device(), _PROCESS.get()
        paddle.set_device(self.device)
        stack.callback(paddle.set_device, before_device)
        now = _Process(self.threads or before.threads, self.keep_memory or before.keep_memory)
        if self.threads:
            paddle.base.core.set_num_threads(now.threads)
            stack.callback(paddle.base.core.set_num_threads, before.threads)
        if now.keep_memory and not before.keep_memory and keep_freed_memory():
            stack.callback(default_freed_memory)
        token = _PROCESS.set(now)
        stack.callback(_PROCESS.reset, token)
        stack.enter_context(kernels.using(self.kernels))
        self._local.__dict__.setdefault("exits", []).append(stack)
        return self

    def __exit__(self, *exc) -> None:
        self._local.exits.pop().close()

    def __repr__(self) -> str:
        return (f"Runtime(device={self.device!r}, threads={self.threads}, "
                f"keep_memory={self.keep_memory}, kernels={self.kernels})")


def keep_memory_for_inference(device: str) -> None:
    """An exported model's process on CPU: reuse freed memory, as training does."""
    if device != "gpu":
        keep_freed_memory()
