"""The authors' TensorFlow checkpoints (taki0112/UGATIT) -> our ``variant: tensorflow`` generators.

The variables are read by :mod:`ppugatit.weights.tf_checkpoint` (no TensorFlow needed); here
their names become ours, NHWC kernels ``[kh, kw, in, out]`` become ``[out, in, kh, kw]``, and the
full model's first MLP layer, which takes the bottleneck flattened as NHWC, gets its rows in our
NCHW order. The sizes come from the shapes; ``smoothing`` from the folder name the authors'
trainer writes (``..._sn_smoothing``). Only the generators are read: ppugatit runs the authors'
models, it does not train them (their trainer is not ported).
"""
from __future__ import annotations

import os
import re

import numpy as np

from ppugatit.errors import CheckpointError
from ppugatit.weights.layout import bottleneck_img_size

# our generator <- the authors' scope (their generator_B translates A to B)
GENERATOR_SCOPES = {"genA2B": "generator_B", "genB2A": "generator_A"}

# model_dir of the authors' trainer: UGATIT[_light]_<dataset>_<gan>_<n>resblock_<n>dis_...
MODEL_DIR = re.compile(r"^UGATIT(?P<light>_light)?_.+_\d+resblock_(?P<n_dis>\d+)dis_.*?"
                       r"(?P<sn>_sn)?(?P<smoothing>_smoothing)?$")


def _conv(ours: str, theirs: str) -> list[tuple[str, str, str]]:
    return [(ours + ".weight", theirs + "/conv2d/kernel", "conv"),
            (ours + ".bias", theirs + "/conv2d/bias", "vector")]


def _dense(ours: str, theirs: str) -> list[tuple[str, str, str]]:
    return [(ours + ".weight", theirs + "/dense/kernel", "dense"),
            (ours + ".bias", theirs + "/dense/bias", "vector")]


def _instance_norm(ours: str, theirs: str) -> list[tuple[str, str, str]]:
    return [(ours + ".weight", theirs + "/gamma", "vector"),
            (ours + ".bias", theirs + "/beta", "vector")]


def generator_table(n_res: int) -> list[tuple[str, str, str]]:
    """``(our name, their name relative to the generator scope, layout)`` for every tensor."""
    table = (_conv("DownBlock.1", "conv") + _instance_norm("DownBlock.2", "ins_norm")
             + _conv("DownBlock.5", "conv_0") + _instance_norm("DownBlock.6", "ins_norm_0")
             + _conv("DownBlock.9", "conv_1") + _instance_norm("DownBlock.10", "ins_norm_1"))
    for i in range(n_res):
        ours, theirs = f"DownBlock.{12 + i}.conv_block", f"resblock_{i}"
        table += (_conv(ours + ".1", theirs + "/res1/conv_0")
                  + _instance_norm(ours + ".2", theirs + "/res1/instance_norm")
                  + _conv(ours + ".5", theirs + "/res2/conv_0")
                  + _instance_norm(ours + ".6", theirs + "/res2/instance_norm"))
    table += [("gap_fc.weight", "CAM_logit/kernel", "dense"),
              ("gap_fc.bias", "CAM_logit/bias", "vector")]
    table += _conv("conv1x1", "conv_1x1")
    table += (_dense("FC.0", "MLP/linear_0") + _dense("FC.2", "MLP/linear_1")
              + _dense("gamma", "MLP/gamma") + _dense("beta", "MLP/beta"))
    for i in range(n_res):
        ours, theirs = f"UpBlock1_{i + 1}", f"adaptive_resblock{i}"
        table += (_conv(ours + ".conv1", theirs + "/res1/conv_0")
                  + [(ours + ".norm1.rho", theirs + "/res1/instance_layer_norm/rho", "map")]
                  + _conv(ours + ".conv2", theirs + "/res2/conv_0")
                  + [(ours + ".norm2.rho", theirs + "/res2/instance_layer_norm/rho", "map")])
    for ours_conv, ours_norm, i in (("UpBlock2.2", "UpBlock2.3", 0), ("UpBlock2.7", "UpBlock2.8", 1)):
        table += _conv(ours_conv, f"up_conv_{i}")
        table += [(f"{ours_norm}.{p}", f"layer_ins_norm_{i}/{p}", "map")
                  for p in ("rho", "gamma", "beta")]
    table += _conv("UpBlock2.11", "G_logit")
    return table


def _count(variables: dict, pattern: str) -> int:
    rx = re.compile(pattern)
    return len({m.group(1) for name in variables for m in [rx.fullmatch(name)] if m})


def model_dir_facts(prefix: str) -> dict:
    """What the authors' folder name says (light, n_dis, sn, smoothing), or {} if renamed."""
    m = MODEL_DIR.match(os.path.basename(os.path.dirname(os.path.abspath(prefix))))
    if not m:
        return {}
    return {"light": bool(m["light"]), "n_dis": int(m["n_dis"]), "smoothing": bool(m["smoothing"])}


def tensorflow_sizes(variables: dict[str, np.ndarray], prefix: str) -> dict:
    """Config overrides read off the generators' shapes and the folder name; a light model's
    img_size cannot be read (its MLP pools), so it stays the authors' 256 unless overridden."""
    first = variables.get("generator_B/conv/conv2d/kernel")
    if first is None or "generator_A/conv/conv2d/kernel" not in variables:
        scopes = sorted({name.split("/")[0] for name in variables})[:6]
        raise CheckpointError(
            f"{prefix}: a TensorFlow checkpoint of another network (no "
            f"'generator_B/conv/conv2d/kernel'; its variables start with {scopes}); ppugatit reads "
            f"the U-GAT-IT authors' checkpoints (taki0112/UGATIT)")
    ch = int(first.shape[3])
    n_res = _count(variables, r"generator_B/resblock_(\d+)/.*")
    fc = variables.get("generator_B/MLP/linear_0/dense/kernel")
    if fc is None:
        raise CheckpointError(f"{prefix}: lacks 'generator_B/MLP/linear_0/dense/kernel'; not a "
                              f"checkpoint of the authors' U-GAT-IT generator")
    fc_in = int(fc.shape[0])
    light = fc_in == 4 * ch
    over = {"model.name": "ugatit", "model.variant": "tensorflow", "model.ch": ch,
            "model.n_res": n_res, "model.light": light,
            "model.smoothing": model_dir_facts(prefix).get("smoothing", True)}
    if not light:
        over["model.img_size"] = bottleneck_img_size(fc_in, ch, prefix)
    return over


def nhwc_rows_to_nchw(weight: np.ndarray, side: int) -> np.ndarray:
    """A linear layer's ``[H*W*C, out]`` rows (input flattened NHWC) in NCHW order."""
    c = weight.shape[0] // (side * side)
    return weight.reshape(side, side, c, -1).transpose(2, 0, 1, 3).reshape(weight.shape)


def tensorflow_to_ours(variables: dict[str, np.ndarray],
                       prefix: str) -> dict[str, dict[str, np.ndarray]]:
    """Both generators in our names and layouts (their shapes are checked when loaded)."""
    out = {}
    for net, scope in GENERATOR_SCOPES.items():
        table = generator_table(_count(variables, rf"{scope}/resblock_(\d+)/.*"))
        weights = {}
        for ours, theirs, layout in table:
            name = f"{scope}/{theirs}"
            if name not in variables:
                raise CheckpointError(f"{prefix}: lacks '{name}'; it is not a checkpoint of the "
                                      f"authors' U-GAT-IT generator, or it is damaged")
            value = np.asarray(variables[name])
            if layout == "map":
                value = value.reshape(1, -1, 1, 1)
            elif layout == "conv":
                value = value.transpose(3, 2, 0, 1)
            if ours == "FC.0.weight":
                channels = int(variables[f"{scope}/conv_1x1/conv2d/kernel"].shape[3])
                if value.shape[0] != channels:  # the full model: the map flattened NHWC
                    side = int(round((value.shape[0] / channels) ** 0.5))
                    value = nhwc_rows_to_nchw(value, side)
            weights[ours] = np.ascontiguousarray(value, dtype=np.float32)
        out[net] = weights
    return out
