"""train.cpu_keep_memory: freed memory is reused, so a large tensor is not page-faulted anew."""
import subprocess
import sys

import pytest

from conftest import ROOT

PROBE = """
import resource, sys
import numpy as np
if {keep}:
    from ppugatit.kernels.malloc import keep_freed_memory
    assert keep_freed_memory()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
a = np.ones(16 << 20, np.float32)  # 64 MB, written, then freed
del a
before = faults()
b = np.ones(16 << 20, np.float32)
print(faults() - before)
"""


def page_faults(keep: bool) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE.format(root=ROOT, keep=keep)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_freed_block_is_reused_without_page_faults():
    # glibc unmapped the block, so the kernel maps it anew: 16384 small pages, or 32 huge ones
    assert page_faults(keep=False) >= 25
    assert page_faults(keep=True) < 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_kept_memory_can_be_given_back():
    code = """
import numpy as np
from ppugatit.kernels.malloc import keep_freed_memory, release_freed_memory
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) // 1024 for l in f if l.startswith("VmRSS"))
keep_freed_memory()
a = np.ones(64 << 20, np.float32)  # 256 MB
del a
kept = rss_mb()
release_freed_memory()
print(kept, rss_mb())
"""
    kept, released = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True,
                                             text=True, check=True).stdout.split())
    assert kept - released > 200
