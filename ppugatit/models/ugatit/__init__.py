"""U-GAT-IT (Kim et al., ICLR 2020): its description. The class is ``model.py``, the networks
(ResnetGenerator with CAM and AdaLIN, the global and local discriminators) ``networks.py``."""
from __future__ import annotations

from ppugatit.models.description import OFFICIAL_SIZES, OFFICIAL_TRAINING, Description

DEFAULTS = {
    "output_dir": "output/ugatit",
    "model": {
        "name": "ugatit",
        "light": False,
        "ch": 64,
        "n_res": 4,
        "img_size": 256,
        "n_dis_global": 7,
        "n_dis_local": 5,
        "self_attention": False,
        # whose network: pytorch (the official code), tensorflow (the authors' TF code,
        # whose released checkpoints run here), paddlegan (PaddleGAN's port)
        "variant": "pytorch",
        "smoothing": False,  # the TF code's AdaLIN option (its checkpoints say _smoothing)
    },
    "loss": {
        "adv_weight": 1.0,
        "cycle_weight": 10.0,
        "identity_weight": 10.0,
        "cam_weight": 1000.0,
    },
}


def quality_setting(img_size: int) -> dict:
    """Light, ch 8, n_res 2, with the official discriminator depths where the size allows
    them (7/5 at 128 px; one less at 64 px, as the demo config)."""
    deep = img_size >= 128
    return {"model.name": "ugatit", "model.light": True, "model.ch": 8, "model.n_res": 2,
            "model.img_size": img_size, "model.n_dis_global": 7 if deep else 6,
            "model.n_dis_local": 5 if deep else 4}


DESCRIPTION = Description(
    name="ugatit",
    replay="ppugatit.models.ugatit.replay:replay",
    model_class="ppugatit.models.ugatit.model:UGATIT",
    defaults=DEFAULTS,
    official_networks=("genA2B", "genB2A", "disGA", "disGB", "disLA", "disLB"),
    official_options=OFFICIAL_SIZES + OFFICIAL_TRAINING + (
        ("n_dis_global", "model.n_dis_global", int, 7),
        ("n_dis_local", "model.n_dis_local", int, 5),
        ("identity_weight", "loss.identity_weight", float),
        ("cam_weight", "loss.cam_weight", float)),
    step_fixture="ugatit_light_step.npz",
    trajectory_fixture="ugatit_trajectory.npz",
    quality_setting=quality_setting,
)
