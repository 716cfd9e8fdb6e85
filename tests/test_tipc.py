"""The TIPC chain (prepare, lite train, export, Paddle Inference) runs on CPU and writes its
outputs; and so does whole_infer on the official-format checkpoint."""
import os
import re
import subprocess

import pytest

from conftest import ROOT
from ppugatit.data.image_io import list_images, read_image

CONFIG = os.path.join("test_tipc", "configs", "ugatit", "train_infer_python.txt")


def run_chain(mode, out):
    env = dict(os.environ, TIPC_OUTPUT=str(out))
    for script in ("prepare.sh", "test_train_inference_python.sh"):
        proc = subprocess.run(["bash", os.path.join("test_tipc", script), CONFIG, mode],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def check_inference(log_path, size):
    for bs in (1, 4):
        folder = log_path / f"infer_cpu_mkldnn_False_threads_2_bs_{bs}"
        files = [os.path.basename(f) for f in list_images(str(folder))]
        assert len(files) == 32  # 16 translations and their heatmaps
        assert "A_0000.png" in files and "A_0000_heatmap.png" in files
        assert read_image(str(folder / "A_0015.png")).shape == (size, size, 3)


@pytest.mark.parametrize("mode, steps, size", [
    ("lite_train_lite_infer", ["tools/train.py", "tools/export_model.py",
                               "deploy/python/infer.py", "deploy/python/infer.py"], 64),
    ("whole_infer", ["tools/export_model.py", "deploy/python/infer.py",
                     "deploy/python/infer.py"], 128)])
@pytest.mark.slow
def test_tipc_chain(tmp_path, mode, steps, size):
    stdout = run_chain(mode, tmp_path)
    ran = re.findall(r"Run successfully with command - ugatit - \S+ (\S+)", stdout)
    assert ran == steps, stdout[-3000:]
    assert "Run failed" not in stdout
    log_path = tmp_path / "ugatit" / mode
    results = (log_path / "results_python.log").read_text()
    assert results.count("Run successfully") == len(steps)
    check_inference(log_path, size)
    if mode == "lite_train_lite_infer":
        train = log_path / "norm_train_gpus_-1"
        assert "iter 10/10" in (train / "train.log").read_text()
        assert sorted(os.listdir(train / "inference")) == ["inference.json", "inference.pdiparams",
                                                          "inference.yml"]


@pytest.mark.slow
def test_a_failing_step_is_reported_and_fails_the_chain(tmp_path):
    broken = tmp_path / "broken.txt"
    text = open(os.path.join(ROOT, CONFIG)).read()
    broken.write_text(text.replace("train_model:./tests/fixtures/ugatit_light_official.pt",
                                   "train_model:./no/such/weights.pt"))
    proc = subprocess.run(["bash", os.path.join("test_tipc", "test_train_inference_python.sh"),
                           str(broken), "whole_infer"], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, TIPC_OUTPUT=str(tmp_path / "out")), timeout=300)
    assert proc.returncode == 1
    assert "Run failed with command - ugatit - python tools/export_model.py" in proc.stdout
    assert "--weights ./no/such/weights.pt: file not found" in proc.stdout
