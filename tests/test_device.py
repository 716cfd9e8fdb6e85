"""The one owner of process state: device choice, kernel switches by CPU, and undoing them."""
import pytest

from ppugatit.device import has_gpu, onednn_min_flops, resolve_device, restore_device, setup_device
from ppugatit.errors import ConfigError
from ppugatit.kernels import cpu as kernels


def test_one_validator_names_the_setting_it_checks():
    with pytest.raises(ConfigError, match="train.device must be auto, cpu or gpu, got 'tpu'"):
        resolve_device("tpu", "train.device")
    with pytest.raises(ConfigError, match="--device must be auto, cpu or gpu"):
        resolve_device("cuda")
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(None) == resolve_device("auto") == ("gpu" if has_gpu() else "cpu")


def test_setup_switches_the_kernels_and_restore_undoes_it():
    before = {name: kernels.enabled(name) for name in kernels.KERNELS}
    threshold = kernels.ONEDNN_MIN_FLOPS
    assert setup_device("cpu", fast_kernels=False) == "cpu"
    try:
        assert not any(kernels.enabled(name) for name in kernels.KERNELS)
        for op in ("conv2d", "reflection_pad", "upsample_nearest2x", "instance_layer_norm"):
            assert kernels.replacement(op) is None  # every layer on its reference code
        setup_device("cpu", onednn=False)
        try:
            assert not kernels.enabled("onednn_conv") and kernels.enabled("fused_norm")
        finally:
            restore_device()
        assert not kernels.enabled("fused_norm")  # back to the first setting, not the start
    finally:
        restore_device()
    assert {name: kernels.enabled(name) for name in kernels.KERNELS} == before
    assert kernels.ONEDNN_MIN_FLOPS == threshold


def test_the_onednn_threshold_follows_what_the_cpu_offers():
    intel = {"vendor": "GenuineIntel", "avx512": True}
    assert onednn_min_flops(intel) == kernels.ONEDNN_MIN_FLOPS_AVX512_INTEL
    for other in ({"vendor": "AuthenticAMD", "avx512": True},
                  {"vendor": "GenuineIntel", "avx512": False}):
        assert onednn_min_flops(other) == kernels.ONEDNN_MIN_FLOPS_DEFAULT


def test_an_unknown_kernel_is_refused_by_name():
    with pytest.raises(KeyError, match="unknown kernel 'fused'; the kernels are onednn_conv"):
        kernels.configure(fused=True)
