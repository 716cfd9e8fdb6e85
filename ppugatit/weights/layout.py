"""Official PyTorch checkpoints -> our weights, by name.

Our layers carry the official names, so conversion is a lookup plus one layout change:
PyTorch stores linear weights ``[out, in]``, Paddle ``[in, out]``.
"""
from __future__ import annotations

import numpy as np
import paddle.nn as nn

from ppugatit.errors import CheckpointError
from ppugatit.layers import SNLinear


def linear_weight_names(net: nn.Layer) -> set[str]:
    """State-dict names of every linear weight in ``net`` (the tensors to transpose)."""
    names = set()
    for prefix, layer in net.named_sublayers(include_self=True):
        lead = prefix + "." if prefix else ""
        if isinstance(layer, nn.Linear):
            names.add(lead + "weight")
        elif isinstance(layer, SNLinear):
            names.add(lead + "weight_orig")
    return names


def official_to_paddle(net: nn.Layer, official: dict, source: str) -> dict[str, np.ndarray]:
    """One network's official state dict in our layout, checked name by name and shape by shape."""
    own = net.state_dict()
    transpose = linear_weight_names(net)
    missing = [k for k in own if k not in official]
    if missing:
        raise CheckpointError(f"{source} lacks '{missing[0]}' ({len(missing)} tensors missing); "
                              f"is it a checkpoint of this model and configuration?")
    out = {}
    for k, v in own.items():
        arr = np.asarray(official[k])
        if k in transpose:
            arr = arr.T
        if list(arr.shape) != list(v.shape):
            raise CheckpointError(
                f"{source}: '{k}' has shape {list(arr.shape)} but this model needs "
                f"{list(v.shape)}; set model.light/ch/n_res/img_size as the official run did")
        # our tensor's dtype: float32, or int64 for BatchNorm's num_batches_tracked
        dtype = v.numpy().dtype
        # np.asarray, not ascontiguousarray, which turns a 0-d tensor into shape [1]
        out[k] = np.asarray(arr.astype(dtype) if arr.dtype != dtype else arr, order="C")
    return out


def convert_official(model, checkpoint: dict, source: str) -> dict[str, dict[str, np.ndarray]]:
    """Every network of ``model`` from an official checkpoint dict (``{'genA2B': sd, ...}``)."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{source}: holds a {type(checkpoint).__name__}, not a dict of "
                              f"state dicts")
    weights = {}
    for name, net in model.networks.items():
        if name not in checkpoint:
            raise CheckpointError(f"{source}: has no '{name}' (it holds {sorted(checkpoint)}); "
                                  f"was it saved by another model's trainer?")
        weights[name] = official_to_paddle(net, checkpoint[name], f"{source}:{name}")
    return weights


def paddle_to_official(net: nn.Layer) -> dict[str, np.ndarray]:
    """``net``'s state in the official layout (for comparison with official numbers)."""
    transpose = linear_weight_names(net)
    return {k: (v.numpy().T if k in transpose else v.numpy()) for k, v in net.state_dict().items()}


def model_to_official(model) -> dict[str, np.ndarray]:
    """Every network's state in the official names and layout, keyed ``net/param``."""
    return {f"{net}/{name}": value for net, layer in model.networks.items()
            for name, value in paddle_to_official(layer).items()}


def bottleneck_img_size(fc_in: int, ch: int, source: str) -> int:
    """The img_size of a full model, whose MLP's first layer takes the whole bottleneck map of
    4*ch channels at img_size/4 (a light model's MLP pools: its size is not in the file)."""
    side = int(round((fc_in / (4 * ch)) ** 0.5))
    if side * side * 4 * ch != fc_in:
        raise CheckpointError(f"{source}: the MLP's first layer takes {fc_in} inputs, which is "
                              f"no square bottleneck of {4 * ch} channels; is it U-GAT-IT?")
    return 4 * side
