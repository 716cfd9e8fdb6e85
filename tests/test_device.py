"""The one owner of process state, ppugatit.device.Runtime: device choice, kernels by CPU,
threads and allocator, and nothing of them left behind when it exits."""
import subprocess
import sys
import threading

import paddle
import pytest

from ppugatit.device import Runtime, has_gpu, onednn_min_flops, resolve_device
from ppugatit.errors import ConfigError
from ppugatit.kernels import cpu as kernels
from ppugatit.layers import conv2d

OPS = ("conv2d", "reflection_pad", "upsample_nearest2x", "instance_layer_norm")


def test_one_validator_names_the_setting_it_checks():
    with pytest.raises(ConfigError, match="train.device must be auto, cpu or gpu, got 'tpu'"):
        resolve_device("tpu", "train.device")
    with pytest.raises(ConfigError, match="--device must be auto, cpu or gpu"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="--device must be auto, cpu or gpu"):
        Runtime("cuda", key="--device")  # refused when made, before it changes anything
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(None) == resolve_device("auto") == ("gpu" if has_gpu() else "cpu")


def test_runtimes_nest_and_each_exit_restores_what_was_there():
    before, device = kernels.active(), paddle.get_device()
    with Runtime("cpu", fast_kernels=False) as reference:
        assert reference.device == "cpu" and paddle.get_device() == "cpu"
        assert all(kernels.replacement(op) is None for op in OPS)  # every layer's own code
        with Runtime("cpu", onednn=False):
            assert not kernels.enabled("onednn_conv") and kernels.enabled("fused_norm")
            assert kernels.replacement("instance_layer_norm") is not None
        assert not kernels.enabled("fused_norm")  # back to the outer setting, not the start
        with reference:  # the same runtime entered again
            assert not kernels.enabled("fused_norm")
        assert not kernels.enabled("fused_norm")
    assert kernels.active() == before and paddle.get_device() == device


def test_an_exception_inside_still_restores():
    before = kernels.active()
    with pytest.raises(RuntimeError, match="inside"):
        with Runtime("cpu", fast_kernels=False):
            raise RuntimeError("inside")
    assert kernels.active() == before


def convolve_big(result: dict, key: str, barrier: threading.Barrier, runtime: Runtime,
                 turn: int) -> None:
    with runtime:
        barrier.wait()  # both runtimes are in force from here to the end
        for i in range(2):  # one thread convolves at a time (the programs are counted per process)
            if i == turn:
                before = kernels.conv_programs()
                conv2d(paddle.randn([1, 32, 66, 66]), paddle.randn([32, 32, 3, 3]))
                result[key] = (kernels.active(), kernels.conv_programs() > before)
            barrier.wait()


def test_two_runtimes_in_one_process_each_keep_their_own_kernels():
    """The app's second model, a notebook cell after a training: a runtime's kernel choice
    reaches only the code it runs, even while another runtime runs beside it."""
    kernels.forget_conv_programs()
    eager = Runtime("cpu", fast_kernels=False)
    onednn = Runtime("cpu")
    onednn.kernels = onednn.kernels.switched(onednn_min_flops=0)
    result: dict = {}
    barrier = threading.Barrier(2, timeout=60)
    threads = [threading.Thread(target=convolve_big, args=(result, k, barrier, r, turn))
               for turn, (k, r) in enumerate((("eager", eager), ("onednn", onednn)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert result["eager"] == (eager.kernels, False)  # no oneDNN program was traced
    assert result["onednn"] == (onednn.kernels, True)
    assert kernels.active() == kernels.Kernels()  # this thread saw neither


PROBE = """
import resource, sys
import numpy as np
from ppugatit.device import Runtime
def faults():
    a = np.ones(16 << 20, np.float32)  # 64 MB, written, then freed
    del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    b = np.ones(16 << 20, np.float32)
    del b
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
outside = faults()
with Runtime("cpu", keep_memory=True):
    inside = faults()
print(outside, inside, faults())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_allocator_setting_ends_with_the_runtime():
    """Inside, a freed 64 MB block is reused (no page faults); after exit glibc maps and
    unmaps it again, as in a process that never entered a runtime."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, timeout=300)
    outside, inside, after = map(int, out.stdout.split()[-3:])
    assert outside >= 25 and after >= 25  # 16384 small pages, or 32 huge ones
    assert inside < 5


def test_the_onednn_threshold_follows_what_the_cpu_offers():
    intel = {"vendor": "GenuineIntel", "avx512": True}
    assert onednn_min_flops(intel) == kernels.ONEDNN_MIN_FLOPS_AVX512_INTEL
    for other in ({"vendor": "AuthenticAMD", "avx512": True},
                  {"vendor": "GenuineIntel", "avx512": False}):
        assert onednn_min_flops(other) == kernels.ONEDNN_MIN_FLOPS_DEFAULT


def test_an_unknown_kernel_is_refused_by_name():
    with pytest.raises(KeyError, match="unknown kernel 'fused'; the kernels are onednn_conv"):
        kernels.switched(fused=True)
