"""NICE-GAN (Chen et al., CVPR 2020): its description. The class is ``model.py``, the networks
(the discriminators that are also the encoders, and the decoders) ``networks.py``."""
from __future__ import annotations

from ppugatit.models.description import OFFICIAL_SIZES, OFFICIAL_TRAINING, Description

DEFAULTS = {
    "output_dir": "output/nicegan",
    "model": {
        "name": "nicegan",
        "light": False,
        "ch": 64,
        "n_res": 6,
        "n_dis": 7,
        "img_size": 256,
    },
    "loss": {
        "adv_weight": 1.0,
        "cycle_weight": 10.0,
        "recon_weight": 10.0,
    },
}


def quality_setting(img_size: int) -> dict:
    """Light, ch 8, n_res 2, the official discriminator depth 7 from 96 px (6 below)."""
    return {"model.name": "nicegan", "model.light": True, "model.ch": 8, "model.n_res": 2,
            "model.img_size": img_size, "model.n_dis": 7 if img_size >= 96 else 6}


DESCRIPTION = Description(
    name="nicegan",
    replay="ppugatit.models.nicegan.replay:replay",
    model_class="ppugatit.models.nicegan.model:NICEGAN",
    defaults=DEFAULTS,
    official_networks=("gen2B", "gen2A", "disA", "disB"),
    official_options=OFFICIAL_SIZES + OFFICIAL_TRAINING + (
        ("n_dis", "model.n_dis", int), ("recon_weight", "loss.recon_weight", float)),
    step_fixture="nicegan_light_step.npz",
    trajectory_fixture="nicegan_trajectory.npz",
    quality_setting=quality_setting,
)
