"""The Trainer: outputs, VisualDL, resume, interruption, NaN, bad checkpoints, learning."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from conftest import ROOT, tiny_overrides
from ppugatit import checkpoint
from ppugatit.config import build_config
from ppugatit.data.dataset import domain_files, load_test_images
from ppugatit.engine import Trainer
from ppugatit.engine.trainer import TrainingStopped
from ppugatit.errors import CheckpointError, UserError

DEMO = os.path.join(ROOT, "configs", "demo.yaml")


def make_trainer(tmp_path, resume=False, **extra):
    return Trainer(build_config(DEMO, tiny_overrides(tmp_path, **extra)), resume=resume)


def vdl_reader(out):
    from visualdl import LogReader
    files = glob.glob(os.path.join(out, "vdl", "*"))
    assert len(files) == 1
    return LogReader(file_path=files[0])


def test_a_short_run_writes_everything(tmp_path):
    make_trainer(tmp_path).train()
    out = tmp_path / "out"
    assert (out / "config.yaml").is_file()
    assert build_config(str(out / "config.yaml")).model.ch == 4
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_0000002.pdckpt",
                                                       "iter_0000004.pdckpt", "latest.pdckpt"]
    assert checkpoint.load(str(out / "checkpoints" / "latest.pdckpt"))["iteration"] == 4
    weights = checkpoint.load(str(out / "weights.pdparams"))
    assert sorted(weights) == ["disGA", "disGB", "disLA", "disLB", "genA2B", "genB2A"]
    samples = sorted(os.listdir(out / "samples"))
    assert samples == ["A2B_0000002.png", "A2B_0000004.png", "B2A_0000002.png", "B2A_0000004.png"]
    from ppugatit.data.image_io import read_image
    grid = read_image(str(out / "samples" / "A2B_0000004.png"))
    assert grid.shape == (7 * 32, 2 * 32, 3)  # seven panels per image, two images
    log = (out / "train.log").read_text()
    line = [line for line in log.splitlines() if "iter 4/4" in line][0]
    for field in ("D_loss", "G_loss", "G_cam_loss_A", "lr_G", "avg_reader_cost", "avg_batch_cost",
                  "ips", "eta"):
        assert field in line


def test_visualdl_step_counter_advances(tmp_path):
    make_trainer(tmp_path, **{"train.iterations": 6}).train()
    reader = vdl_reader(str(tmp_path / "out"))
    tags = reader.get_tags()
    assert all(t.startswith("train/") for t in tags["scalar"])
    assert {"train/G_loss", "train/D_loss", "train/lr_G", "train/ips", "train/avg_reader_cost",
            "train/avg_batch_cost"} <= set(tags["scalar"])
    steps = [r.id for r in reader.get_data("scalar", "train/G_loss")]
    assert steps == [2, 4, 6]
    images = [r.id for r in reader.get_data("image", "vis/A2B")]
    assert images == [2, 4, 6]


def final_weights(out):
    return checkpoint.load(os.path.join(out, "weights.pdparams"))


@pytest.mark.slow
def test_sigint_saves_and_resume_continues(tmp_path):
    over = [f"{k}={v}" for k, v in tiny_overrides(tmp_path, **{"train.iterations": 100000,
                                                               "train.log_interval": 1}).items()]
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c", DEMO,
                             "-o", *over, "dataset.num_workers=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log = tmp_path / "out" / "train.log"
    deadline = time.time() + 120
    while time.time() < deadline and not (log.exists() and "iter 3/" in log.read_text()):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    state = checkpoint.load(str(tmp_path / "out" / "checkpoints" / "latest.pdckpt"))
    assert state["iteration"] >= 3
    trainer = make_trainer(tmp_path, resume=True, **{"train.iterations": state["iteration"] + 1})
    assert trainer.iteration == state["iteration"]
    trainer.train()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    trainer = make_trainer(tmp_path, **{"train.iterations": 8})
    step = trainer.model.train_step

    def poisoned(batch):
        losses = step(batch)
        if trainer.iteration == 3:
            losses["G_loss"] = paddle.to_tensor(float("nan"))
        return losses
    trainer.model.train_step = poisoned
    with pytest.raises(TrainingStopped, match=r"iteration 3: G_loss is nan.*latest.pdckpt"):
        trainer.train()
    state = checkpoint.load(str(tmp_path / "out" / "checkpoints" / "latest.pdckpt"))
    assert state["iteration"] == 2


def test_without_the_adversarial_term_the_discriminators_are_left_alone(tmp_path):
    """loss.adv_weight 0 (issue 29's ablation): trained on a zero loss, the discriminators'
    weights used to shrink under Adam's weight decay until the spectral norm gave NaN and
    Paddle's CPU kernels aborted the process (``double free or corruption``) near iteration
    600 at 96 px; the official code outputs NaN there. Weights scaled by 1e-20 stand for that
    state, which aborted on the first step."""
    trainer = make_trainer(tmp_path, **{"loss.adv_weight": 0.0})
    for net in trainer.model.discriminators:
        for p in net.parameters():
            p.set_value(p * 1e-20)
    before = {f"{i}/{n}": p.numpy().copy() for i, net in enumerate(trainer.model.discriminators)
              for n, p in net.named_parameters()}
    gen_before = trainer.model.genA2B.parameters()[0].numpy().copy()
    trainer.train()
    after = {f"{i}/{n}": p.numpy() for i, net in enumerate(trainer.model.discriminators)
             for n, p in net.named_parameters()}
    for k, v in before.items():
        np.testing.assert_array_equal(v, after[k], err_msg=k)
    gen_after = trainer.model.genA2B.parameters()[0].numpy()
    assert np.isfinite(gen_after).all() and not np.array_equal(gen_before, gen_after)
    log = open(tmp_path / "out" / "train.log").read()
    assert "G_ad_loss_A 0.0000" in log and "D_loss" not in log


def test_resume_without_checkpoint_and_from_another_architecture(tmp_path):
    with pytest.raises(UserError, match="--resume: no checkpoint in"):
        make_trainer(tmp_path, resume=True)
    make_trainer(tmp_path, **{"train.iterations": 2}).train()
    with pytest.raises(CheckpointError, match=r"latest.pdckpt:genA2B: '.*' has shape .* in the "
                                              r"file but .* in this model"):
        make_trainer(tmp_path, resume=True, **{"model.ch": 8})


KILLER = """
import sys
import numpy as np
from ppugatit import checkpoint
big = {{"w": np.random.rand(4_000_000).astype("float32")}}
i = 0
while True:
    big["i"] = i
    checkpoint.save(big, {path!r})
    if i == 0:
        print("saved", flush=True)
    i += 1
"""


@pytest.mark.slow
def test_killing_mid_save_never_leaves_an_unloadable_checkpoint(tmp_path):
    """SIGKILL at several moments after the first save (the process saves in a loop, so most
    kills land inside a save); whatever moment, the file on disk loads whole. The delays count
    from the first save, not from the start, since importing Paddle alone can take seconds."""
    path = str(tmp_path / "latest.pdckpt")
    for delay in (0.0, 0.05, 0.1, 0.2, 0.35):
        proc = subprocess.Popen([sys.executable, "-c", KILLER.format(root=ROOT, path=path)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "saved"
            time.sleep(delay)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        state = checkpoint.load(path)
        assert state["w"].shape == [4_000_000]


@pytest.mark.slow
def test_training_learns_on_the_demo_data(tmp_path):
    """CAM logits tell the domains apart on held-out images and the cycle loss falls; a step
    that failed to update G would leave both at chance."""
    trainer = make_trainer(tmp_path, **{"train.iterations": 150, "model.ch": 8,
                                        "optimizer.lr": 5e-4, "train.log_interval": 50,
                                        "train.sample_interval": 1000,
                                        "train.save_interval": 1000})
    recon = []
    step = trainer.model.train_step

    def record(batch):
        losses = step(batch)
        recon.append(float(losses["G_recon_loss_A"]) + float(losses["G_recon_loss_B"]))
        return losses
    trainer.model.train_step = record
    trainer.train()
    assert np.mean(recon[-25:]) < 0.7 * np.mean(recon[:5])

    root = str(tmp_path / "data")
    model = trainer.model
    model.eval()
    with paddle.no_grad():
        score_a = model.genA2B(paddle.to_tensor(load_test_images(domain_files(root, "testA"), 32)))[1]
        score_b = model.genA2B(paddle.to_tensor(load_test_images(domain_files(root, "testB"), 32)))[1]
    # genA2B's CAM is trained to say "A" (translate me) on A and "not A" on B (identity)
    score_a, score_b = score_a.numpy().sum(1), score_b.numpy().sum(1)
    accuracy = ((score_a > 0).mean() + (score_b < 0).mean()) / 2
    assert accuracy >= 0.9, (score_a, score_b)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_mixed_precision_switch_runs(tmp_path, dtype):
    """On CPU auto_cast is a no-op, but the AMP code path (and float16's loss scaler) runs."""
    trainer = make_trainer(tmp_path, **{"train.amp": True, "train.amp_dtype": dtype,
                                        "train.iterations": 2})
    assert trainer.model.amp
    trainer.train()
    state = checkpoint.load(str(tmp_path / "out" / "checkpoints" / "latest.pdckpt"))
    assert state["iteration"] == 2
    assert ("scalers" in state["model"]) == (dtype == "float16")
    assert "mixed precision needs a GPU" in (tmp_path / "out" / "train.log").read_text()


@pytest.mark.slow
def test_evaluation_during_training_logs_kid_fid_and_keeps_the_best(tmp_path):
    trainer = make_trainer(tmp_path, **{"train.iterations": 4, "train.eval_interval": 2,
                                        "train.eval_num_images": 3,
                                        "train.inception_weights": "random:0"})
    trainer.train()
    reader = vdl_reader(str(tmp_path / "out"))
    tags = set(reader.get_tags()["scalar"])
    assert {"eval/kid_A2B", "eval/kid_B2A", "eval/fid_A2B", "eval/fid_B2A"} <= tags
    assert [r.id for r in reader.get_data("scalar", "eval/kid_A2B")] == [2, 4]
    assert (tmp_path / "out" / "best.pdparams").is_file()
    log = (tmp_path / "out" / "train.log").read_text()
    assert "eval at iter 2 | kid_A2B" in log and "new best" in log
    state = checkpoint.load(str(tmp_path / "out" / "checkpoints" / "latest.pdckpt"))
    assert np.isfinite(state["best_kid"])


def test_evaluation_without_inception_weights_is_refused(tmp_path):
    with pytest.raises(UserError, match="train.inception_weights"):
        make_trainer(tmp_path, **{"train.eval_interval": 2})
