"""What the CPU offers, read from /proc/cpuinfo at start-up: the kernels' settings, thread
counts and benchmark reports follow it, and no CPU is assumed. Imports nothing heavy."""
from __future__ import annotations

import os


def cpu_features() -> dict:
    """What the CPU offers, read at start-up (thread counts and reports follow it, no CPU is
    assumed): vendor, model, usable cores, AVX-512, AMX, VNNI."""
    info = {"vendor": "unknown", "model": "unknown", "flags": set()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id":
                    info["vendor"] = value.strip()
                elif key == "model name":
                    info["model"] = value.strip()
                elif key == "flags":
                    info["flags"] = set(value.split())
                    break
    except OSError:
        pass
    flags = info.pop("flags")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {**info, "cores": cores, "avx512": "avx512f" in flags,
            "avx512_bf16": "avx512_bf16" in flags, "amx": "amx_tile" in flags,
            "vnni": bool({"avx512_vnni", "avx_vnni", "amx_int8"} & flags)}


def describe_cpu(features: dict | None = None) -> str:
    f = features or cpu_features()
    extras = [name for name, key in (("AVX-512", "avx512"), ("bf16", "avx512_bf16"),
                                     ("AMX", "amx")) if f[key]]
    return f"{f['model']} ({f['vendor']}), {f['cores']} cores, {', '.join(extras) or 'no AVX-512'}"
