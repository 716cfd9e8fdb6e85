"""Which settings a model's networks can take, found by running them, not by rules beside them.

Each model lists :class:`Probe` s: networks built from the model's settings, and how its
training step uses them. :func:`check` builds each probe twice. At the real widths under
``paddle.LazyGuard`` (no weights allocated), so that a layer refusing its channel count at
construction (self-attention's C/8 queries) says so. Then one channel per layer, since no spatial
size depends on the width, and a batch goes through with a pre-hook on every layer that has a
size limit: the limits PyTorch enforces in the official code, some of which Paddle's kernels do
not check (a reflection pad of p needs more than p px, a convolution a padded input at least its
kernel and the channels it was built for, an instance norm in training more than one pixel, a
linear layer its in_features). The first layer that cannot take its input is named in the error,
with the nearest settings that work, found by the same walk.

The walk leaves nothing behind: the probes are thrown away and Paddle's random state, which
their initialisers draw from, is put back.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import paddle
import paddle.nn as nn

from ppugatit.config import AttrDict
from ppugatit.errors import ConfigError
from ppugatit.layers import (Conv2D, InstanceNorm, Linear, ReflectionPad2D, SNConv2D,
                             SNLinear)

# the range searched for the nearest working value of each setting
SEARCH: dict[str, tuple[int, int]] = {"img_size": (8, 1024), "n_dis": (1, 12),
                                      "n_dis_global": (1, 12), "n_dis_local": (1, 12),
                                      "ch": (1, 256), "conv_dim": (1, 256)}


@dataclass(frozen=True)
class Probe:
    """Networks of one model that the training step uses together.

    ``build(m, narrow)`` makes ``networks`` (name -> layer) from the model settings ``m``
    (narrow: the width the spatial walk uses). ``run(nets, m)`` does with them what the
    training step does, on a batch of ``m.img_size`` pictures, and returns what is wrong with
    their outputs (None: nothing).
    ``sizes`` are the settings the spatial walk depends on, ``widths`` those construction does;
    both are searched for the nearest working values.
    """

    networks: tuple[str, ...]
    build: Callable[[dict, bool], dict[str, nn.Layer]]
    run: Callable[[dict[str, nn.Layer], dict], str | None]
    sizes: tuple[str, ...]
    widths: tuple[str, ...] = ()


class Blocked(Exception):
    """A layer cannot take what reaches it."""


def pictures(m: dict, n: int = 1) -> paddle.Tensor:
    return paddle.zeros([n, 3, m["img_size"], m["img_size"]])


def _px(x: paddle.Tensor) -> str:
    h, w = x.shape[-2:]
    return f"{h} px" if h == w else f"{h}x{w} px"


def same_size(network: str, out: paddle.Tensor, x: paddle.Tensor) -> str | None:
    """A translation network must give back pictures of its input's size: the cycle,
    identity and reconstruction losses compare the two (the official L1 loss raises on a
    mismatch)."""
    if list(out.shape[-2:]) == list(x.shape[-2:]):
        return None
    return (f"{network} returns {_px(out)} pictures for {_px(x)} ones, which the L1 losses "
            f"compare with them")


def _limit(path: str, layer: nn.Layer, x: paddle.Tensor) -> None:
    """Raise :class:`Blocked` when ``layer`` cannot take ``x``, as PyTorch's layer would."""
    name = f"layer {path} ({type(layer).__name__})"
    if isinstance(layer, ReflectionPad2D):
        left, right, top, bottom = (layer.p,) * 4 if isinstance(layer.p, int) else layer.p
        if x.shape[-2] <= max(top, bottom) or x.shape[-1] <= max(left, right):
            p = max(left, right, top, bottom)
            raise Blocked(f"{name} would see {_px(x)}, which its reflection padding of {p} "
                          f"cannot take (it needs more than {p} px)")
    elif isinstance(layer, (Conv2D, SNConv2D)):
        w = layer.weight if isinstance(layer, Conv2D) else layer.weight_orig
        if x.shape[1] != w.shape[1]:
            raise Blocked(f"{name} gets {x.shape[1]} channels where it was built for "
                          f"{w.shape[1]}")
        if min(x.shape[-2:]) < w.shape[-1]:
            raise Blocked(f"{name} would see {_px(x)}, less than its {w.shape[-1]}x"
                          f"{w.shape[-1]} kernel")
    elif isinstance(layer, (Linear, SNLinear)):
        w = layer.weight if isinstance(layer, Linear) else layer.weight_orig
        if x.shape[-1] != w.shape[0]:
            raise Blocked(f"{name} gets {x.shape[-1]} inputs where it was built for "
                          f"{w.shape[0]}")
    elif isinstance(layer, InstanceNorm) and layer.training:
        if x.shape[-2] * x.shape[-1] <= 1:
            raise Blocked(f"{name} would see {_px(x)}; instance norm in training needs more "
                          f"than one pixel")


@contextlib.contextmanager
def _rng_kept() -> Iterator[None]:
    state = paddle.get_rng_state()
    try:
        yield
    finally:
        paddle.set_rng_state(state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def walk(probe: Probe, m: dict, widths: bool = True) -> str | None:
    """What stops ``probe`` at settings ``m``, or None when its networks run (``widths``
    False: without the build at the real widths, for a search that changes sizes only)."""
    m = AttrDict(m)
    names = " and ".join(probe.networks)
    with _rng_kept():
        try:
            if widths:
                with paddle.LazyGuard():
                    probe.build(m, False)
            nets = probe.build(m, True)
        except Exception as exc:  # the network's own refusal is the message
            return f"building {names} fails: {_first_line(exc)}"
        for net_name, net in nets.items():
            net.train()
            for path, layer in net.named_sublayers():
                layer.register_forward_pre_hook(
                    lambda layer, inputs, where=f"{net_name}.{path}": _limit(
                        where, layer, inputs[0]))
        try:
            with paddle.no_grad():
                return probe.run(nets, m)
        except Blocked as exc:
            return str(exc)
        except Exception as exc:  # a limit no hook knows: still one line, with the networks
            return f"{names} fail in the training step: {_first_line(exc)}"


def nearest(probes: list[Probe], m: dict, key: str, failing: Probe,
            reach: int = 160) -> list[int]:
    """The working values of ``key`` closest to ``m[key]`` within ``reach`` of it, others
    unchanged (both sides on a tie). A candidate is walked through the failing probe first,
    through every probe only when that passes."""
    low, high = SEARCH.get(key, (1, 64))
    value = m[key]
    widths = key in failing.widths
    for d in range(1, reach + 1):
        found = []
        for v in (value - d, value + d):
            if not low <= v <= high:
                continue
            candidate = {**m, key: v}
            if walk(failing, candidate, widths) is None and all(
                    walk(p, candidate) is None for p in probes if p is not failing):
                found.append(v)
        if found:
            return found
    return []


def check(probes: list[Probe], m: dict) -> None:
    """Refuse settings ``m`` that some probe cannot run, in one line: the settings, the layer,
    and the nearest settings that work."""
    for probe in probes:
        problem = walk(probe, m)
        if problem is None:
            continue
        keys = (probe.widths if problem.startswith("building") else probe.sizes) or probe.sizes
        shown = ", ".join(f"model.{k}={m[k]}" for k in keys)
        options = []
        for key in keys:
            if isinstance(m[key], bool) or not isinstance(m[key], int):
                continue
            values = nearest(probes, m, key, probe)
            if values:
                options += [f"-o model.{key}={v}" for v in values]
        hint = ("; nearest that work: " + " or ".join(options)) if options else ""
        raise ConfigError(f"{shown}: {problem}{hint}")
