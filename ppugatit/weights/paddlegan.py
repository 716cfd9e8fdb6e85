"""PaddleGAN's U-GAT-IT files (its trainer's checkpoints and weights, ``ugatit_light.pdparams``).

PaddleGAN's trainer saves ``{genA2B: ..., genB2A: ..., disGA: ..., ..., 'epoch': n}`` (its
'checkpoint' adds ``optimG``/``optimD``). Its ``ResnetUGATITGenerator`` is the official PyTorch
network in Paddle's layout, except that its encoder's instance norms carry a frozen scale and
shift (``DownBlock.2.scale``): our ``variant: paddlegan`` generator, whose instance norms name
them ``weight`` and ``bias``. Its ``UGATITDiscriminator`` is ours, name for name.
"""
from __future__ import annotations

import re

import numpy as np

from ppugatit.errors import CheckpointError
from ppugatit.weights.layout import bottleneck_img_size

GENERATORS = ("genA2B", "genB2A")
NETWORKS = GENERATORS + ("disGA", "disGB", "disLA", "disLB")

# PaddleGAN models whose files a user may pick up by mistake: a key they hold -> their name
OTHER_MODELS = (
    (re.compile(r"^EncodeBlock1\."), "photo2cartoon (ResnetUGATITP2CGenerator)"),
    (re.compile(r"^netG_A$"), "CycleGAN (netG_A, netG_B)"),
    (re.compile(r"^netG$"), "a one-generator model (netG: Pix2Pix, AnimeGAN...)"),
)


def is_paddlegan(state: dict) -> bool:
    """PaddleGAN's layout: U-GAT-IT networks whose generator norms have a ``.scale``."""
    gen = state.get("genA2B")
    return isinstance(gen, dict) and any(k.endswith(".scale") for k in gen)


def other_model(state: dict) -> str | None:
    """The name of the PaddleGAN model (not U-GAT-IT) a state dict belongs to, if known."""
    for key in state:
        for rx, name in OTHER_MODELS:
            if isinstance(key, str) and rx.search(key):
                return name
    return None


def paddlegan_sizes(state: dict, source: str) -> dict:
    """Config overrides read off the tensor shapes."""
    gen = state["genA2B"]
    try:
        ch = int(np.shape(gen["DownBlock.1.weight"])[0])
        fc_in = int(np.shape(gen["FC.0.weight"])[0])  # Paddle's Linear: [in, out]
    except KeyError as e:
        raise CheckpointError(f"{source}: genA2B lacks {e}; not a PaddleGAN U-GAT-IT "
                              f"generator") from None
    n_res = len([k for k in gen if re.fullmatch(r"UpBlock1_\d+\.conv1\.weight", k)])
    over = {"model.name": "ugatit", "model.variant": "paddlegan", "model.ch": ch,
            "model.n_res": n_res, "model.light": fc_in == 4 * ch}
    for net, key in (("disGA", "model.n_dis_global"), ("disLA", "model.n_dis_local")):
        if isinstance(state.get(net), dict):
            over[key] = 1 + len([k for k in state[net]
                                 if k.startswith("model.") and k.endswith("weight_orig")])
    if fc_in != 4 * ch:
        over["model.img_size"] = bottleneck_img_size(fc_in, ch, source)
    return over


def paddlegan_to_ours(state: dict) -> dict[str, dict[str, np.ndarray]]:
    """The networks in our names: the generators' ``.scale`` -> ``.weight``; optimizers and
    the epoch dropped."""
    out = {}
    for net in NETWORKS:
        if isinstance(state.get(net), dict):
            rename = (lambda k: k[:-len(".scale")] + ".weight" if k.endswith(".scale") else k) \
                if net in GENERATORS else (lambda k: k)
            out[net] = {rename(k): v for k, v in state[net].items()}
    return out
