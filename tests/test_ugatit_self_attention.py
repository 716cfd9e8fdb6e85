"""U-GAT-IT's optional self-attention (model.self_attention): off is the official network, on
adds a SAGAN block at the bottleneck that starts as the identity and then learns."""
import numpy as np
import paddle
import pytest

from conftest import tiny_overrides
from ppugatit.config import build_config
from ppugatit.errors import CheckpointError, ConfigError
from ppugatit.models.ugatit.model import UGATIT


def tiny(tmp_path, **extra):
    over = tiny_overrides(tmp_path, **{"model.ch": 8, **extra})
    return UGATIT(build_config(overrides=over))


def test_off_by_default_adds_nothing(tmp_path):
    model = tiny(tmp_path)
    for name, net in model.networks.items():
        assert not [k for k in net.state_dict() if "attn" in k], name


def test_a_fresh_block_leaves_every_output_unchanged(tmp_path):
    paddle.seed(1)
    plain = tiny(tmp_path)
    attended = tiny(tmp_path, **{"model.self_attention": True})
    x = paddle.to_tensor(np.random.default_rng(0).uniform(-1, 1, (2, 3, 32, 32)).astype("float32"))
    for name in ("genA2B", "disGA", "disLA"):
        a, b = plain.networks[name], attended.networks[name]
        own = b.state_dict()
        extra = [k for k in own if k.startswith("attn.")]
        assert {k for k in own if k not in extra} == set(a.state_dict()), name
        assert extra, name
        b.set_state_dict({**{k: v for k, v in a.state_dict().items()},
                          **{k: own[k] for k in extra}})
        a.eval(), b.eval()
        for u, v in zip(a(x), b(x)):
            np.testing.assert_allclose(u.numpy(), v.numpy(), atol=1e-6, err_msg=name)


def test_the_block_learns_in_a_training_step(tmp_path):
    paddle.seed(2)
    model = tiny(tmp_path, **{"model.self_attention": True})
    model.train()
    rng = np.random.default_rng(0)
    batch = {k: paddle.to_tensor(rng.uniform(-1, 1, (1, 3, 32, 32)).astype("float32"))
             for k in "AB"}
    losses = model.train_step(batch)
    assert all(np.isfinite(float(v)) for v in losses.values())
    for name, net in model.networks.items():
        assert float(net.attn.gamma.numpy()[0]) != 0.0, f"{name}: attention gamma got no update"


def test_weights_without_attention_are_refused_by_name(tmp_path):
    plain = tiny(tmp_path)
    attended = tiny(tmp_path, **{"model.self_attention": True})
    weights = {k: net.state_dict() for k, net in plain.networks.items()}
    with pytest.raises(CheckpointError, match="attn"):
        attended.load_weights(weights, "plain.pdparams")


def test_too_few_channels_to_attend_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="model.self_attention"):
        tiny(tmp_path, **{"model.self_attention": True, "model.ch": 2})
