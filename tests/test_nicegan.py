"""NICE-GAN against the official implementation's numbers, and through the shared tools."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import FIXTURES, ROOT, perturbed
from ppugatit import checkpoint
from ppugatit.weights import torch_pickle
from ppugatit.alignment import check_fixture, fixture_config, fixture_model, load_fixture
from ppugatit.config import build_config
from ppugatit.weights.layout import paddle_to_official
from ppugatit.engine import Trainer
from ppugatit.errors import ConfigError
from ppugatit.models.table import MODELS
from ppugatit.models.nicegan.model import NICEGAN
from ppugatit.weights.pytorch import config_from_official, model_from_official

FIXTURE = os.path.join(FIXTURES, "nicegan_light_step.npz")
PT = os.path.join(FIXTURES, "nicegan_light_official.pt")
DEMO = os.path.join(ROOT, "configs", "demo_nicegan.yaml")
LINEAR = {"FC.0.weight", "FC.2.weight", "gamma.weight", "beta.weight", "fc.weight_orig"}


def run_tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", name), *args],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def fixture():
    return load_fixture(FIXTURE)


# alignment
def test_a_perturbed_encoder_weight_is_caught(tmp_path, fixture):
    rows = check_fixture(load_fixture(perturbed(tmp_path, fixture,
                                                "before/disA/model.4.weight_orig")))
    failed = {r.name for r in rows if not r.ok}
    assert {"eval_forward/disA/z", "eval_forward/gen2B/out",
            "after/disA/model.4.weight_orig"} <= failed


# inference
def test_translator_a2b_gives_the_official_translation(fixture):
    """A2B is disA's encoding decoded by gen2B: the fixture's eval-mode numbers."""
    model = fixture_model(fixture)
    model.eval()
    with paddle.no_grad():
        images, heatmap = model.translator("A2B")(paddle.to_tensor(fixture["input/real_A"]))
    ref = fixture["eval_forward/gen2B/out"]
    np.testing.assert_allclose(images.numpy(), ref, atol=1e-4)
    np.testing.assert_allclose(heatmap.numpy(), fixture["eval_forward/disA/heatmap"],
                               atol=1e-4 * np.abs(fixture["eval_forward/disA/heatmap"]).max())


def test_translator_b2a_uses_disB_and_gen2A(fixture):
    model = fixture_model(fixture)
    model.eval()
    x = paddle.to_tensor(fixture["input/real_B"])
    with paddle.no_grad():
        images, heatmap = model.translator("B2A")(x)
        _, _, _, heat, z = model.disB(x)
        expected = model.gen2A(z)
    assert images.shape == [2, 3, 128, 128] and heatmap.shape == [2, 1, 32, 32]
    np.testing.assert_array_equal(images.numpy(), expected.numpy())
    np.testing.assert_array_equal(heatmap.numpy(), heat.numpy())
    with paddle.no_grad():
        assert not np.allclose(model.translator("A2B")(x)[0].numpy(), images.numpy())
    with pytest.raises(ConfigError, match="direction must be A2B or B2A"):
        model.translator("A2A")


# official checkpoints
def test_the_official_checkpoint_reads_with_its_optimizers(fixture):
    ckpt = torch_pickle.load(PT)
    assert sorted(ckpt) == ["D_optimizer", "G_optimizer", "disA", "disB", "gen2A", "gen2B",
                            "start_iter"]
    keys = [k for k in fixture if k.startswith("before/")]
    assert sum(len(ckpt[n]) for n in NICEGAN.official_networks) == len(keys)
    for key in keys:
        _, net, name = key.split("/", 2)
        np.testing.assert_array_equal(ckpt[net][name], fixture[key])
    assert config_from_official(ckpt) == {
        "model.name": "nicegan", "model.ch": 4, "model.n_res": 2, "model.n_dis": 7,
        "model.light": True}
    assert isinstance(model_from_official(ckpt, PT, overrides=["model.img_size=128"]), NICEGAN)


def test_convert_tool_output_equals_fixture_before_weights(tmp_path, fixture):
    dst = tmp_path / "nicegan.pdparams"
    proc = run_tool("convert_weights.py", "--src", PT, "--dst", str(dst),
                    "-o", "model.img_size=128")
    assert proc.returncode == 0, proc.stderr
    assert "model.name=nicegan" in proc.stdout
    weights = checkpoint.load(str(dst))
    assert sorted(weights) == sorted(NICEGAN.official_networks)
    n = 0
    for key in (k for k in fixture if k.startswith("before/")):
        _, net, name = key.split("/", 2)
        ref = fixture[key].T if name in LINEAR else fixture[key]
        np.testing.assert_array_equal(np.asarray(weights[net][name]), ref)
        n += 1
    assert n == sum(len(sd) for sd in weights.values()) == 152
    NICEGAN(build_config(overrides=fixture_config(fixture))).load_weights(weights)


def test_sizes_of_a_full_model_are_read_off_its_checkpoint():
    model = NICEGAN(build_config(overrides={"model.name": "nicegan", "model.ch": 2,
                                            "model.n_res": 3, "model.n_dis": 6,
                                            "model.img_size": 48}))
    ckpt = {name: paddle_to_official(net) for name, net in model.networks.items()}
    assert config_from_official(ckpt) == {
        "model.name": "nicegan", "model.ch": 2, "model.n_res": 3, "model.n_dis": 6,
        "model.light": False, "model.img_size": 48}


@pytest.mark.parametrize("over, message", [
    ({"model.n_dis": 5}, r"model.n_dis=5: layer disA\.Dis1_0\.1 \(SNConv2D\) gets 2 channels "
                         r"where it was built for 1; nearest that work: -o model.n_dis=6$"),
    ({"model.img_size": 64, "model.n_dis": 7},
     r"model.img_size=64, model.n_dis=7: layer disA\.pad .* would see 1 px.*nearest that work: "
     r"-o model.img_size=96 or -o model.n_dis=6$"),
    ({"model.img_size": 50, "model.n_dis": 6},
     r"model.img_size=50, .* returns 48 px pictures for 50 px ones.*"
     r"-o model.img_size=48 or -o model.img_size=52"),
])
@pytest.mark.slow
def test_impossible_sizes_are_refused_with_the_key(over, message):
    with pytest.raises(ConfigError, match=message):
        NICEGAN(build_config(overrides={"model.name": "nicegan", **over}))


# training with the shared Trainer
def tiny(tmp_path, **extra):
    over = {"output_dir": str(tmp_path / "out"), "model.ch": 4, "model.n_res": 1,
            "model.n_dis": 6, "model.img_size": 48, "dataset.root": str(tmp_path / "data"),
            "dataset.num_workers": 0, "train.iterations": 4, "train.log_interval": 2,
            "train.sample_interval": 2, "train.save_interval": 2, "train.sample_num": 2}
    over.update(extra)
    return build_config(DEMO, over)


def test_demo_config_trains_and_writes_everything(tmp_path):
    assert MODELS["nicegan"] is NICEGAN
    Trainer(tiny(tmp_path)).train()
    out = tmp_path / "out"
    assert build_config(str(out / "config.yaml")).model.name == "nicegan"
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_0000002.pdckpt",
                                                       "iter_0000004.pdckpt", "latest.pdckpt"]
    weights = checkpoint.load(str(out / "weights.pdparams"))
    assert sorted(weights) == ["disA", "disB", "gen2A", "gen2B"]
    assert sorted(os.listdir(out / "samples")) == ["A2B_0000002.png", "A2B_0000004.png",
                                                   "B2A_0000002.png", "B2A_0000004.png"]
    from ppugatit.data.image_io import read_image
    grid = read_image(str(out / "samples" / "B2A_0000004.png"))
    assert grid.shape == (5 * 48, 2 * 48, 3)  # real, heatmap, recon, translation, cycle
    line = [line for line in (out / "train.log").read_text().splitlines() if "iter 4/4" in line][0]
    for field in ("D_loss", "G_loss", "G_cycle_loss_A", "G_recon_loss_B", "lr_G", "lr_D", "ips"):
        assert field in line


def test_the_generator_update_leaves_the_encoders_alone(tmp_path):
    """Decoupled training: the G loss reaches the encoders, but only the D update moves them."""
    model = NICEGAN(tiny(tmp_path))
    before = model.disA.model[1].weight_orig.numpy().copy()
    seen = {}
    g_step = model.optimizers["G"].step

    def record():
        seen.update({k: v.numpy().copy() for k, v in model.disA.named_parameters()})
        g_step()
    model.optimizers["G"].step = record
    batch = {"A": paddle.rand([1, 3, 48, 48]) * 2 - 1, "B": paddle.rand([1, 3, 48, 48]) * 2 - 1}
    model.train_step(batch)
    assert not np.array_equal(seen["model.1.weight_orig"], before)  # the D update moved it
    for k, v in model.disA.named_parameters():
        np.testing.assert_array_equal(v.numpy(), seen[k], err_msg=k)


@pytest.mark.slow
def test_training_learns_on_the_demo_data(tmp_path):
    """Reconstruction from the discriminator's encoding and the cycle both improve (to about
    0.4 of their start here); a step that failed to update the decoders would leave them flat."""
    trainer = Trainer(tiny(tmp_path, **{"train.iterations": 60, "optimizer.lr": 5e-4,
                                        "train.log_interval": 1000,
                                        "train.sample_interval": 1000,
                                        "train.save_interval": 1000}))
    recon, cycle = [], []
    step = trainer.model.train_step

    def record(batch):
        losses = step(batch)
        recon.append(float(losses["G_recon_loss_A"]) + float(losses["G_recon_loss_B"]))
        cycle.append(float(losses["G_cycle_loss_A"]) + float(losses["G_cycle_loss_B"]))
        return losses
    trainer.model.train_step = record
    trainer.train()
    assert np.mean(recon[-10:]) < 0.6 * np.mean(recon[:5]), recon
    assert np.mean(cycle[-10:]) < 0.6 * np.mean(cycle[:5]), cycle
