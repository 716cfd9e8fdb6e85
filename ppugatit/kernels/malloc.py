"""Keep freed memory in the process for reuse: a large speed-up for CPU training.

glibc's malloc serves every block over 32 MB (and, by default, many over 128 KB) with a fresh
``mmap`` and returns it to the system on free, so each large tensor of every step is
page-faulted and zero-filled by the kernel anew: at 256 px that was a third of a training step
(docs/benchmarks.md). With mmap off and trimming off, freed blocks stay in the heap and the
next step reuses them; the price is that the resident size stays at its peak. This module
imports nothing heavy, so that research/benchmark_official.py can give the official code the
same setting.
"""
from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4  # from glibc's malloc.h


def _glibc(function: str):
    """A function of the C library, or None where there is none (macOS, Windows, musl)."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), function)
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to reuse freed memory instead of unmapping it; False off glibc."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, -1)
                and mallopt(M_TOP_PAD, 64 << 20))


def default_freed_memory() -> None:
    """glibc's settings as a process starts (mallopt(3): at most 65536 maps, trim and top pad
    at 128 KiB; its threshold for mapping stays fixed from here), the kept memory released."""
    mallopt = _glibc("mallopt")
    if mallopt is None:
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_MAX, 65536)
    mallopt(M_TRIM_THRESHOLD, 128 << 10)
    mallopt(M_TOP_PAD, 128 << 10)
    release_freed_memory()


def release_freed_memory() -> None:
    """Give the freed memory that :func:`keep_freed_memory` kept back to the system, e.g.
    before starting another large process."""
    malloc_trim = _glibc("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)
