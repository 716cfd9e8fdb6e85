"""Data parallel for real: two CPU processes with the gloo backend, as on a multi-GPU machine."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, tiny_overrides

WORKER = os.path.join(ROOT, "tests", "helpers", "dp_worker.py")


def launch(tmp_path, over, flags=""):
    env = dict(os.environ, PADDLE_DISTRI_BACKEND="gloo", DP_WEIGHTS_DIR=str(tmp_path),
               DP_FLAGS=flags)
    cmd = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
           "--log_dir", str(tmp_path / "launch_logs"), WORKER,
           os.path.join(ROOT, "configs", "demo.yaml")] + [f"{k}={v}" for k, v in over.items()]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in (tmp_path / "launch_logs").glob("workerlog.*"))
    assert proc.returncode == 0, proc.stdout[-3000:] + logs[-3000:]
    return logs


def weights(tmp_path, rank):
    with np.load(tmp_path / f"rank{rank}.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical_and_rank0_alone_saves(tmp_path):
    over = tiny_overrides(tmp_path, **{"train.iterations": 4})
    launch(tmp_path, over)
    w0, w1 = weights(tmp_path, 0), weights(tmp_path, 1)
    assert w0.keys() == w1.keys()
    for k in w0:
        np.testing.assert_array_equal(w0[k], w1[k], err_msg=k)
    out = tmp_path / "out"
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_0000002.pdckpt",
                                                       "iter_0000004.pdckpt", "latest.pdckpt"]
    assert len(list((out / "vdl").iterdir())) == 1  # one VisualDL writer: rank 0's
    log = (out / "train.log").read_text()
    assert "batch 1 x 2 rank(s)" in log
    assert log.count("iter 4/4") == 1

    # resume under data parallel: both ranks load rank 0's checkpoint and stay in step
    over2 = dict(over, **{"train.iterations": 6})
    launch(tmp_path, over2, flags="--resume")
    r0, r1 = weights(tmp_path, 0), weights(tmp_path, 1)
    for k in r0:
        np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
    assert any(not np.array_equal(r0[k], w0[k]) for k in r0)
    assert "resumed from" in (out / "train.log").read_text()


@pytest.mark.slow
def test_two_ranks_of_batch_1_equal_one_process_of_batch_2(tmp_path):
    """Rank r takes sample (it-1)*2 + r, the samples a single process with batch 2 takes: the
    averaged gradients must give that process's weights (up to float32 rounding, which a
    first Adam step can amplify to 2 lr on elements whose gradient is near zero)."""
    over = tiny_overrides(tmp_path / "dp", **{"train.iterations": 3, "train.save_interval": 100})
    launch(tmp_path, over)
    dp = weights(tmp_path, 0)

    from ppugatit.config import build_config
    from ppugatit.engine import Trainer
    single = Trainer(build_config(os.path.join(ROOT, "configs", "demo.yaml"), tiny_overrides(
        tmp_path / "single", **{"train.iterations": 3, "train.batch_size": 2,
                                "train.save_interval": 100})))
    single.train()
    ref = {f"{net}/{k}": v.numpy() for net, sd in single.model.weights().items()
           for k, v in sd.items()}
    lr = 1e-4
    for k, v in ref.items():
        err = np.abs(dp[k] - v)
        assert (err <= 1e-5).mean() >= 0.99, k
        assert err.max() <= 2.5 * lr * 3, k
