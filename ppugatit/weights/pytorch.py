"""The official implementations' checkpoint formats: which model a file holds, and its sizes.

Our networks carry the official names, so a checkpoint's network names pick the model and
its tensor shapes give the config (``model.ch``, ``model.n_res``...). The tensor-by-tensor
conversion itself is ``ppugatit/weights/layout.py``, which knows nothing of configs or models.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable

import numpy as np

from ppugatit.config import build_config, parse_overrides
from ppugatit.weights.layout import bottleneck_img_size
from ppugatit.errors import CheckpointError
from ppugatit.models import MODELS


def model_name_for_networks(names: Iterable[str], source: str) -> str:
    """The ``model.name`` whose official network names are exactly ``names``."""
    names = set(names)
    for name, cls in MODELS.items():
        if set(cls.official_networks) == names:
            return name
    known = "; ".join(f"{name}: {', '.join(cls.official_networks)}"
                      for name, cls in MODELS.items())
    raise CheckpointError(f"{source}: holds the networks {sorted(names)}, which match no model "
                          f"({known})")


def model_for_networks(names: Iterable[str], source: str):
    """The model class whose official network names are exactly ``names``."""
    return MODELS[model_name_for_networks(names, source)]


def _ugatit_sizes(checkpoint: dict) -> dict:
    gen, dis_g, dis_l = checkpoint["genA2B"], checkpoint["disGA"], checkpoint["disLA"]
    ch = int(np.shape(gen["DownBlock.1.weight"])[0])
    n_res = len([k for k in gen if re.fullmatch(r"DownBlock\.\d+\.conv_block\.1\.weight", k)])
    fc_in = int(np.shape(gen["FC.0.weight"])[1])
    over = {"model.name": "ugatit", "model.ch": ch, "model.n_res": n_res,
            "model.light": fc_in == 4 * ch,
            "model.n_dis_global": 1 + len([k for k in dis_g if k.startswith("model.")
                                           and k.endswith("weight_orig")]),
            "model.n_dis_local": 1 + len([k for k in dis_l if k.startswith("model.")
                                          and k.endswith("weight_orig")])}
    if fc_in != 4 * ch:
        over["model.img_size"] = bottleneck_img_size(fc_in, ch, "checkpoint")
    return over


def _nicegan_sizes(checkpoint: dict) -> dict:
    gen, dis = checkpoint["gen2B"], checkpoint["disA"]
    ch = int(np.shape(gen["UpBlock0.1.weight"])[0]) // 4
    n_res = len([k for k in gen if re.fullmatch(r"UpBlock1_\d+\.conv1\.weight", k)])
    n_dis = 6 + len([k for k in dis if re.fullmatch(r"Dis0_0\.\d+\.weight_orig", k)])
    fc_in = int(np.shape(gen["FC.0.weight"])[1])
    over = {"model.name": "nicegan", "model.ch": ch, "model.n_res": n_res,
            "model.n_dis": n_dis, "model.light": fc_in == 4 * ch}
    if fc_in != 4 * ch:
        over["model.img_size"] = bottleneck_img_size(fc_in, ch, "checkpoint")
    return over


def _sagan_sizes(checkpoint: dict) -> dict:
    z_dim, channels = np.shape(checkpoint["G"]["l1.0.module.weight_bar"])[:2]
    return {"model.name": "sagan", "model.z_dim": int(z_dim),
            "model.conv_dim": int(channels) // 8}


SIZES: dict[str, Callable[[dict], dict]] = {
    "ugatit": _ugatit_sizes, "nicegan": _nicegan_sizes, "sagan": _sagan_sizes}


def config_from_official(checkpoint: dict, source: str = "checkpoint") -> dict:
    """Config overrides (``{"model.name": ..., "model.ch": ...}``) read off an official
    checkpoint's network names and tensor shapes."""
    return SIZES[model_name_for_networks(network_names(checkpoint), source)](checkpoint)


def network_names(checkpoint: dict) -> list[str]:
    """Entries that are state dicts (an official NICE-GAN file also holds optimizers, step)."""
    return [k for k, v in checkpoint.items() if isinstance(v, dict) and v
            and all(hasattr(t, "shape") for t in v.values())]


def model_from_official(checkpoint: dict, source: str, config: str | None = None,
                        overrides: list[str] | None = None):
    """The model matching an official checkpoint, its config read off the tensor shapes."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{source}: holds a {type(checkpoint).__name__}, not a dict")
    over = config_from_official(checkpoint, source)
    over.update(parse_overrides(overrides or []))
    return MODELS[over["model.name"]](build_config(config, over))
