"""SAGAN (Zhang et al., ICML 2019): its description. The class is ``model.py``, the networks
(self-attention generator and discriminator with spectral norm) ``networks.py``."""
from __future__ import annotations

from ppugatit.models.description import Description

DEFAULTS = {
    "output_dir": "output/sagan",
    "model": {
        "name": "sagan",
        "img_size": 64,    # the reference code's architecture is fixed at 64 x 64
        "conv_dim": 64,
        "z_dim": 128,
    },
    "loss": {"adv_loss": "hinge"},
    "optimizer": {
        "lr": 1e-4,        # the generator's; the two time-scale update rule gives D 4x
        "d_lr": 4e-4,
        "beta1": 0.0,
        "beta2": 0.9,
        "weight_decay": 0.0,
        "decay_flag": False,
    },
}

DESCRIPTION = Description(
    name="sagan",
    replay="ppugatit.models.sagan.replay:replay",
    model_class="ppugatit.models.sagan.model:SAGAN",
    defaults=DEFAULTS,
    official_networks=("G", "D"),
    official_options=(
        ("image_size", "model.img_size", int), ("conv_dim", "model.conv_dim", int),
        ("z_dim", "model.z_dim", int), ("g_lr", "optimizer.lr", float),
        ("d_lr", "optimizer.d_lr", float), ("beta1", "optimizer.beta1", float),
        ("beta2", "optimizer.beta2", float)),
    official_fixed={"optimizer.weight_decay": 0.0, "optimizer.decay_flag": False},
    step_fixture="sagan_step.npz",
)
