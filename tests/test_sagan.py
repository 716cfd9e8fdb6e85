"""SAGAN: alignment with the reference code's fixture, self-attention, training, resume."""
import glob
import os

import numpy as np
import paddle
import pytest

from conftest import FIXTURES, ROOT, perturbed
from ppugatit import checkpoint
from ppugatit.alignment import check_fixture, load_fixture
from ppugatit.attention import SelfAttention
from ppugatit.config import build_config
from ppugatit.data.image_io import read_image
from ppugatit.engine import Trainer
from ppugatit.errors import ConfigError, DataError
from ppugatit.kernels.cpu import onednn_flag
from ppugatit.models.sagan.model import SAGAN
from ppugatit.weights.pytorch import config_from_official, model_for_networks
from ppugatit.models.sagan.networks import BatchNorm2D

FIXTURE = os.path.join(FIXTURES, "sagan_step.npz")
DEMO = os.path.join(ROOT, "configs", "demo_sagan.yaml")


# alignment with the reference implementation
def test_only_updates_of_zero_gradient_are_held_to_adams_bound_alone():
    """(That every row passes is tests/test_model_contract.py's.)"""
    rows = check_fixture(load_fixture(FIXTURE))
    noise = sorted(r.name for r in rows if "float32 noise" in r.note)
    assert noise == sorted(
        [f"after/G/l{i}.0.module.bias" for i in range(1, 5)]
        + [f"after/{n}/{a}.key_conv.bias" for n in "GD" for a in ("attn1", "attn2")]
        + ["after/D/attn2.value_conv.bias", "after/D/last.0.bias"])


def test_a_perturbed_discriminator_spectral_norm_vector_is_caught(tmp_path):
    rows = check_fixture(load_fixture(perturbed(tmp_path, load_fixture(FIXTURE),
                                                "before/D/l2.0.module.weight_u", 1e-2)))
    failed = {r.name for r in rows if not r.ok}
    assert "after/D/l2.0.module.weight_u" in failed
    # a power iteration precedes every use, so the loss moves only once D has stepped
    assert "step/G_loss" in failed
    assert not any(name.startswith("eval_forward/") for name in failed)


def test_official_state_dicts_map_onto_the_model():
    fixture = load_fixture(FIXTURE)
    official = {net: {k.split("/", 2)[2]: v for k, v in fixture.items()
                      if k.startswith(f"before/{net}/")} for net in ("G", "D")}
    assert model_for_networks(official, "test") is SAGAN
    assert config_from_official(official) == {"model.name": "sagan", "model.z_dim": 32,
                                                   "model.conv_dim": 16}


# parts
def test_self_attention_starts_as_the_identity_and_its_rows_are_distributions():
    paddle.seed(1)
    attn = SelfAttention(16)
    x = paddle.randn([2, 16, 5, 6])
    out, attention = attn(x)
    assert attention.shape == [2, 30, 30]
    np.testing.assert_array_equal(out.numpy(), x.numpy())  # gamma starts at 0
    a = attention.numpy()
    assert (a >= 0).all()
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)

    paddle.assign(paddle.to_tensor([0.5]), attn.gamma)
    out, attention = attn(x)
    value = attn.value_conv(x).numpy().reshape(2, 16, 30)
    expected = 0.5 * np.einsum("ncj,nij->nci", value, attention.numpy()).reshape(2, 16, 5, 6)
    np.testing.assert_allclose(out.numpy(), expected + x.numpy(), atol=1e-5)


def test_batchnorm_updates_running_statistics_as_pytorch():
    bn = BatchNorm2D(3)
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(4, 3, 5, 5)).astype(np.float32)
    bn.train()
    y = bn(paddle.to_tensor(x)).numpy()
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    np.testing.assert_allclose(y.mean((0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * mean, rtol=1e-5)
    # PyTorch: momentum 0.1 on the *unbiased* batch variance (Paddle's own BN uses the biased)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.9 + 0.1 * x.var((0, 2, 3), ddof=1),
                               rtol=1e-5)
    assert int(bn.num_batches_tracked) == 1
    bn.eval()
    z = bn(paddle.to_tensor(x)).numpy()
    expected = (x - bn.running_mean.numpy()[:, None, None]) / np.sqrt(
        bn.running_var.numpy()[:, None, None] + 1e-5)
    np.testing.assert_allclose(z, expected, atol=1e-5)
    assert not np.allclose(var, bn.running_var.numpy())


@pytest.mark.parametrize("key, value, match", [
    ("model.img_size", 128, "model.img_size=128: G makes 64 px pictures, which D compares "
                            "with the data set's 128 px ones; nearest that work: "
                            "-o model.img_size=64"),
    ("model.conv_dim", 4, "model.conv_dim=4: building G and D fails: .*SelfAttention needs at "
                          "least 8 channels.*-o model.conv_dim=8"),
    ("loss.adv_loss", "wgan-gp", "loss.adv_loss must be 'hinge'"),
])
@pytest.mark.slow
def test_bad_config_is_refused(key, value, match):
    with pytest.raises(ConfigError, match=match):
        SAGAN(build_config(overrides={"model.name": "sagan", key: value}))


def tiny_sagan(tmp_path, **extra) -> dict:
    over = {
        "output_dir": str(tmp_path / "out"),
        "model.conv_dim": 8, "model.z_dim": 16,
        "dataset.root": str(tmp_path / "data"), "dataset.num_workers": 0,
        "train.iterations": 4, "train.batch_size": 2, "train.log_interval": 2,
        "train.sample_interval": 2, "train.save_interval": 2, "train.sample_num": 4,
    }
    over.update(extra)
    return over


def make_trainer(tmp_path, resume=False, **extra):
    return Trainer(build_config(DEMO, tiny_sagan(tmp_path, **extra)), resume=resume)


def buffers(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


def test_sampling_and_pictures_leave_the_training_state_alone():
    model = SAGAN(build_config(overrides={"model.name": "sagan", "model.conv_dim": 8,
                                          "model.z_dim": 16, "train.sample_num": 5}))
    model.train()
    state = buffers(model.G)
    grids = model.visualize({})
    assert grids["samples"].shape == (2 * 64, 3 * 64, 3)          # 5 images, rows of 3
    assert grids["attention"].shape == (7 * 64, 4 * 64, 3)        # image + 2 maps x 3 points
    model.eval()
    sampler = model.sampler()
    z = paddle.randn([3, 16])
    a, b = sampler(z).numpy(), sampler(z).numpy()
    assert a.shape == (3, 3, 64, 64) and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(a, b)
    after = buffers(model.G)
    for k in state:
        np.testing.assert_array_equal(state[k], after[k], err_msg=k)
    assert model.G.training is False


def test_the_sampler_exports_to_a_static_graph(tmp_path):
    model = SAGAN(build_config(overrides={"model.name": "sagan", "model.conv_dim": 8,
                                          "model.z_dim": 16}))
    sampler = model.sampler()
    sampler.eval()
    z = paddle.randn([2, 16])
    expected = sampler(z).numpy()
    static = paddle.jit.to_static(sampler, full_graph=True, input_spec=[
        paddle.static.InputSpec([None, 16], "float32")])
    paddle.jit.save(static, str(tmp_path / "sampler"))
    # the CPU trainer routes static programs to oneDNN, whose conv_transpose kernel runs only
    # in inference predictors (which turn oneDNN off by default); run this one without it
    with onednn_flag(False):
        out = paddle.jit.load(str(tmp_path / "sampler"))(z).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_a_missing_image_folder_is_named(tmp_path):
    with pytest.raises(DataError, match="'.*nowhere.*' does not exist.*folder of images"):
        make_trainer(tmp_path, **{"dataset.demo": False,
                                  "dataset.root": str(tmp_path / "nowhere")})


def test_demo_config_trains_and_writes_samples_and_attention(tmp_path):
    trainer = make_trainer(tmp_path)
    assert trainer.model.optimizers["D"].get_lr() == pytest.approx(2e-4)
    trainer.train()
    out = tmp_path / "out"
    assert sorted(os.listdir(out / "samples")) == [
        "attention_0000002.png", "attention_0000004.png", "samples_0000002.png",
        "samples_0000004.png"]
    assert read_image(str(out / "samples" / "samples_0000004.png")).shape == (128, 128, 3)
    weights = checkpoint.load(str(out / "weights.pdparams"))
    assert sorted(weights) == ["D", "G"]
    line = [ln for ln in (out / "train.log").read_text().splitlines() if "iter 4/4" in ln][0]
    for field in ("D_loss", "G_loss", "gamma_G_attn1", "lr_G 2.000e-04", "lr_D 2.000e-04"):
        assert field in line

    from visualdl import LogReader
    files = glob.glob(os.path.join(str(out), "vdl", "*"))
    reader = LogReader(file_path=files[0])
    assert {"vis/samples", "vis/attention"} <= set(reader.get_tags()["image"])
    assert [r.id for r in reader.get_data("image", "vis/attention")] == [2, 4]


