"""tools/benchmark.py: its numbers come out, and the official runs are taken in turns."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from timing import alternate


@pytest.mark.slow
def test_the_tool_prints_a_table_and_one_json_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "benchmark.py"), "-c",
         os.path.join(ROOT, "configs", "demo.yaml"), "-o", "model.ch=4", "model.n_res=1",
         "model.img_size=32", "model.n_dis_global=5", "model.n_dis_local=3",
         "--warmup", "1", "--repeat", "2", "--skip", "exported", "onnxruntime"],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["train"]["s_per_step"] > 0 and result["inference"]["dygraph"]["s_per_batch"] > 0
    assert result["peak_memory_mb"] > 100
    assert "training step" in proc.stdout and "official" not in result


def test_ours_and_theirs_alternate_and_each_gets_its_median():
    calls = []
    times = iter([5.0, 1.0, 3.0, 2.0, 4.0])

    def ours():
        calls.append("ours")

    def theirs():
        calls.append("theirs")
        return next(times)
    mine, other = alternate(ours, theirs, warmup=1, repeat=4, device="cpu")
    assert calls == ["ours", "theirs"] * 5
    assert other == 2.5  # the median of the four timed runs (1, 3, 2, 4), not the warm-up's 5
    assert 0 <= mine < 1
