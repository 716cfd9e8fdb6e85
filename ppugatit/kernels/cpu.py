"""Faster ways to compute what ``ppugatit/layers.py`` writes down, and the switches for them.

A layer asks :func:`replacement` for its operation ("conv2d", "reflection_pad",
"upsample_nearest2x", "instance_layer_norm") and gets a kernel, or None for the reference
code it holds itself. Which kernels answer is a :class:`Kernels` value that a
``ppugatit.device.Runtime`` puts in force for the code it runs and takes back on exit; tests
and the A/B benchmark switch them one at a time (:func:`switched`). Every kernel computes the reference function up to float32 rounding;
``tests/test_layers.py`` holds each to its reference and ``tools/check_alignment.py
--kernels off`` replays the official fixtures without any of them. What each one buys, on
which CPU, measured how: the package docstring, ``ppugatit/kernels/__init__.py``.

Exported programs (Paddle Inference, ONNX) always take the static forms below, chosen by
graph kind rather than by switch: they are exact and each runtime has its preferred form.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from typing import Callable, Iterator

import paddle
import paddle.nn.functional as F

KERNELS = ("onednn_conv", "pad_gradient", "upsample_gradient", "fused_norm",
           "grouped_spectral_norm")
# Forward FLOPs below which a convolution stays eager even with oneDNN on: each conv program
# costs about 0.5 ms (forward and backward) before any arithmetic, more than Paddle's eager
# kernel needs for such a conv. Measured per conv shape on AMD EPYC (8 MFLOP); on Intel with
# AVX-512 the light-128 step is 2-3% faster at 20-40 MFLOP (A/B in one process), where
# ppugatit/device.py sets 30 MFLOP (ONEDNN_MIN_FLOPS_AVX512_INTEL).
ONEDNN_MIN_FLOPS_DEFAULT = 8e6
ONEDNN_MIN_FLOPS_AVX512_INTEL = 3e7


@dataclasses.dataclass(frozen=True)
class Kernels:
    """Which kernels answer the layers, and from which size a convolution goes to oneDNN.

    The default is what a layer gets outside any :class:`ppugatit.device.Runtime`: every
    kernel but the oneDNN convolutions, which pay only on a CPU the runtime has set up."""

    onednn_conv: bool = False
    pad_gradient: bool = True
    upsample_gradient: bool = True
    fused_norm: bool = True
    grouped_spectral_norm: bool = True
    onednn_min_flops: float = ONEDNN_MIN_FLOPS_DEFAULT

    def switched(self, onednn_min_flops: float | None = None, **switches: bool) -> "Kernels":
        """These settings with the named kernels on or off (and another oneDNN threshold)."""
        unknown = [k for k in switches if k not in KERNELS]
        if unknown:
            raise KeyError(f"unknown kernel '{unknown[0]}'; the kernels are {', '.join(KERNELS)}")
        changes = {k: bool(v) for k, v in switches.items()}
        if onednn_min_flops is not None:
            changes["onednn_min_flops"] = float(onednn_min_flops)
        return dataclasses.replace(self, **changes)


# The settings in force, per thread and task: a runtime sets them on entry and resets them on
# exit, so nothing it chose outlives it (a thread starts with the defaults).
_ACTIVE: contextvars.ContextVar[Kernels] = contextvars.ContextVar("ppugatit_kernels",
                                                                  default=Kernels())
_ONNX_TRACE: contextvars.ContextVar[bool] = contextvars.ContextVar("ppugatit_onnx_trace",
                                                                   default=False)
# traced oneDNN convolution programs, per stride and grad mode: a cache, not a setting
_STATIC_CONVS: dict = {}


def active() -> Kernels:
    """The kernel settings the layers use here and now."""
    return _ACTIVE.get()


def enabled(name: str) -> bool:
    return getattr(active(), name)


@contextlib.contextmanager
def using(kernels: Kernels) -> Iterator[Kernels]:
    """Within it, ``kernels`` answer the layers; the settings before are back on exit."""
    token = _ACTIVE.set(kernels)
    try:
        yield kernels
    finally:
        _ACTIVE.reset(token)


def switched(onednn_min_flops: float | None = None,
             **switches: bool) -> contextlib.AbstractContextManager:
    """Within it, the named kernels on or off (the A/B benchmark's and the tests' switch)."""
    return using(active().switched(onednn_min_flops, **switches))


def conv_programs() -> int:
    """How many oneDNN convolution programs this process has traced (one per stride and grad
    mode): whether convolutions went through oneDNN."""
    return len(_STATIC_CONVS)


def forget_conv_programs() -> None:
    """Drop the traced programs, so that the next oneDNN convolution traces anew."""
    _STATIC_CONVS.clear()


@contextlib.contextmanager
def onednn_flag(on: bool) -> Iterator[None]:
    """Paddle's global ``FLAGS_use_onednn`` set to ``on`` within, restored after: the one place
    that touches the flag. Left on, it would steer programs that are not ours too (an export, a
    Paddle Inference predictor, which some oneDNN kernels refuse)."""
    previous = paddle.get_flags(["FLAGS_use_onednn"])["FLAGS_use_onednn"]
    paddle.set_flags({"FLAGS_use_onednn": on})
    try:
        yield
    finally:
        paddle.set_flags({"FLAGS_use_onednn": previous})


def backward_context() -> contextlib.AbstractContextManager:
    """Wrap ``loss.backward()``: the oneDNN convolution programs' backward needs the flag."""
    return onednn_flag(True) if active().onednn_conv else contextlib.nullcontext()


@contextlib.contextmanager
def onnx_graph() -> Iterator[None]:
    """Trace static programs for ONNX (``ppugatit/export/program.py``): reflection padding as one pad,
    up-sampling as one resize, normalisation over the known channel count. paddle2onnx needs
    the last with a free batch size; ONNX Runtime runs the first two as single kernels, where
    the slices and broadcasts tuned for Paddle Inference cost it 2-3x their time."""
    token = _ONNX_TRACE.set(True)
    try:
        yield
    finally:
        _ONNX_TRACE.reset(token)


def replacement(op: str) -> Callable | None:
    """The kernel that computes ``op`` here and now, or None for the layer's reference code."""
    if not paddle.in_dynamic_mode():
        return (_ONNX if _ONNX_TRACE.get() else _STATIC).get(op)
    switch, kernel = _EAGER.get(op, (None, None))
    return kernel if switch is not None and getattr(active(), switch) else None


# oneDNN convolutions
def _static_conv(stride: int):
    # Paddle's to_static cache does not key on the grad mode: a program first traced under
    # no_grad would later serve training calls and silently return no weight gradient. So
    # inference and training get separate functions.
    key = (stride, paddle.is_grad_enabled())
    if key not in _STATIC_CONVS:
        def conv(x, weight):
            # assign: the program's output must be a plain dense tensor for the eager side
            return paddle.assign(F.conv2d(x, weight, stride=stride))
        _STATIC_CONVS[key] = paddle.jit.to_static(conv, full_graph=True)
    return _STATIC_CONVS[key]


def conv_flops(x_shape, w_shape, stride: int) -> int:
    """Forward FLOPs (2 per multiply-add) of an unpadded convolution."""
    n, c, h, w = x_shape
    k, _, kh, kw = w_shape
    return 2 * n * k * c * kh * kw * ((h - kh) // stride + 1) * ((w - kw) // stride + 1)


def onednn_conv2d(x: paddle.Tensor, weight: paddle.Tensor, bias: paddle.Tensor | None = None,
                  stride: int = 1) -> paddle.Tensor:
    """An unpadded convolution through oneDNN when it is large enough to repay a program.

    Paddle's eager CPU conv2d is im2col + a single-threaded GEMM; its oneDNN kernels are only
    reached from a static program run with ``FLAGS_use_onednn``. So each convolution of at
    least ``Kernels.onednn_min_flops`` becomes a tiny ``to_static`` program (cached per stride and
    grad mode); the rest of the step, the bias included, stays eager.
    """
    if (not x.place.is_cpu_place()
            or conv_flops(x.shape, weight.shape, stride) < active().onednn_min_flops):
        return F.conv2d(x, weight, bias, stride=stride)
    with onednn_flag(True):
        y = _static_conv(stride)(x, weight)
    # the bias outside the program: inside, it costs a reshape, an add and their gradients in
    # oneDNN layout, 5-9% of a small step
    return y if bias is None else y + bias.reshape([1, -1, 1, 1])


# reflection padding
def _flipped_ends(x: paddle.Tensor, p: int, axis: int, skip: int) -> tuple[paddle.Tensor, ...]:
    """The ``p`` rows (axis 2) or columns (axis 3) after the first ``skip`` and before the last
    ``skip`` along ``axis``, each block flipped (one row needs no flip)."""
    n = x.shape[axis]
    head = paddle.slice(x, [axis], [skip], [skip + p])
    tail = paddle.slice(x, [axis], [n - p - skip], [n - skip])
    if p > 1:
        head, tail = paddle.flip(head, [axis]), paddle.flip(tail, [axis])
    return head, tail


def sliced_reflection_pad(x: paddle.Tensor, p: int) -> paddle.Tensor:
    """Reflection padding by slicing and concatenation, for exported programs: Paddle
    Inference's oneDNN pad3d (what F.pad becomes) is slow, and its squeeze fails in training."""
    for axis in (2, 3):
        head, tail = _flipped_ends(x, p, axis, skip=1)  # the edge row itself is not repeated
        x = paddle.concat([head, x, tail], axis=axis)
    return x


def _fold_reflected(g: paddle.Tensor, p: int, axis: int) -> paddle.Tensor:
    """The gradient of reflection padding along ``axis``: the centre of ``g``, plus the padded
    rows' gradients added onto the rows they copied."""
    n = g.shape[axis]
    grad = paddle.slice(g, [axis], [p], [n - p]).clone()
    head, tail = _flipped_ends(g, p, axis, skip=0)  # the pads
    m = n - 2 * p
    index = [slice(None)] * 4
    index[axis] = slice(1, p + 1)
    grad[tuple(index)] += head
    index[axis] = slice(m - p - 1, m - 1)
    grad[tuple(index)] += tail
    return grad


_FOLDS: dict = {}
# Largest side (padded, for the gradient; unpadded, for the forward) up to which a product with
# a 0/1 matrix beats slicing on CPU: the gradient 1.2-5x faster on 34-134 px maps, slower on
# 262 px ones; the forward 3x faster at 32 px, even at 64 px (timed per shape, Intel Xeon).
MATMUL_PAD_GRAD_MAX = 160
MATMUL_PAD_MAX = 48


def _fold_matrix(n: int, p: int, dtype) -> paddle.Tensor:
    """[n, n - 2p]: entry (i, j) is 1 where padded row i copies row j."""
    key = (n, p, dtype)
    if key not in _FOLDS:
        m = n - 2 * p
        rows = [abs(i - p) if abs(i - p) < m else 2 * (m - 1) - abs(i - p) for i in range(n)]
        fold = paddle.zeros([n, m], dtype)
        fold[list(range(n)), rows] = 1
        _FOLDS[key] = fold
    return _FOLDS[key]


class _ReflectionPadCPU(paddle.autograd.PyLayer):
    """Reflection padding with a hand-written gradient: autograd's gradient of the slices and
    concatenations builds a full-size tensor per slice and sums them; this one adds only the
    edges, on small maps as two products with a 0/1 fold matrix (the same sums, in the same
    order: exact for finite values; an inf spreads along its row as NaN, 0 x inf, where the
    sliced form keeps it in place: the loss is non-finite and the trainer stops either way)."""

    @staticmethod
    def forward(ctx, x: paddle.Tensor, p: int) -> paddle.Tensor:
        ctx.p = p
        h, w = x.shape[2], x.shape[3]
        if max(h, w) <= MATMUL_PAD_MAX:
            return paddle.matmul(_fold_matrix(h + 2 * p, p, x.dtype),
                                 paddle.matmul(x, _fold_matrix(w + 2 * p, p, x.dtype),
                                               transpose_y=True))
        return sliced_reflection_pad(x, p)

    @staticmethod
    def backward(ctx, g: paddle.Tensor) -> paddle.Tensor:
        p, (n, w) = ctx.p, g.shape[2:]
        if max(n, w) <= MATMUL_PAD_GRAD_MAX:  # columns folded first, then rows, as below
            return paddle.matmul(_fold_matrix(n, p, g.dtype),
                                 paddle.matmul(g, _fold_matrix(w, p, g.dtype)), transpose_x=True)
        return _fold_reflected(_fold_reflected(g, p, 3), p, 2)


def reflection_pad_cpu(x: paddle.Tensor, p: int) -> paddle.Tensor:
    """The hand-written gradient on CPU (on small maps as products with a fold matrix, which
    beat pad3d there too: 0.31-0.50 ms against 0.52-1.33 ms forward plus backward on maps of
    6-34 px); Paddle's pad3d on the GPU."""
    if not x.place.is_cpu_place():
        return F.pad(x, [p, p, p, p], mode="reflect")
    return _ReflectionPadCPU.apply(x, p)


# nearest up-sampling
def broadcast_upsample_nearest2x(x: paddle.Tensor) -> paddle.Tensor:
    n, c, h, w = x.shape
    return x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w])


class _UpsampleNearest2x(paddle.autograd.PyLayer):
    """The broadcast with its gradient as one sum over each 2 x 2 block."""

    @staticmethod
    def forward(ctx, x: paddle.Tensor) -> paddle.Tensor:
        return broadcast_upsample_nearest2x(x)

    @staticmethod
    def backward(ctx, g: paddle.Tensor) -> paddle.Tensor:
        n, c, h, w = g.shape
        return g.reshape([n, c, h // 2, 2, w // 2, 2]).sum(axis=[3, 5])


def upsample_nearest2x_block_gradient(x: paddle.Tensor) -> paddle.Tensor:
    return _UpsampleNearest2x.apply(x)


def _onnx_upsample_nearest2x(x: paddle.Tensor) -> paddle.Tensor:
    return F.interpolate(x, size=[2 * x.shape[2], 2 * x.shape[3]], mode="nearest")


# instance and layer normalisation, mixed
def _unbiased_factors(x: paddle.Tensor) -> tuple[float, float]:
    """(n-1)/n of instance (h w elements) and layer (c h w elements) statistics.

    Paddle's fused kernels use the biased variance; with n elements,
    (x - m) / sqrt(var_u + eps) = sqrt((n-1)/n) * (x - m) / sqrt(var_b + eps (n-1)/n),
    so scaling eps and the output gives the official unbiased function. docs/alignment.md says
    how this choice was measured against the official code.
    """
    _, c, h, w = x.shape
    return (h * w - 1) / (h * w), (c * h * w - 1) / (c * h * w)


def fused_instance_layer_norm(x: paddle.Tensor, in_scale: paddle.Tensor, ln_scale: paddle.Tensor,
                              bias: paddle.Tensor, eps: float, unbiased: bool = True) -> paddle.Tensor:
    """``in_scale * IN(x) + ln_scale * LN(x) + bias`` (scales and bias ``[N or 1, C]``;
    unbiased variances as PyTorch's, or biased as TensorFlow's moments) through two fused
    instance-norm kernels.

    The instance part's scale and bias ride in the fused kernel's affine step (x seen as one
    image of N*C channels, so the affine weights may differ per sample), leaving one
    multiply-add; the layer statistics are one instance-norm channel per image, on CPU a third
    of the time of Paddle's layer_norm forward plus backward (and Paddle Inference's oneDNN
    layer norm would take only the last axis, on one thread).
    """
    n, c, h, w = x.shape
    k_in, k_ln = _unbiased_factors(x) if unbiased else (1.0, 1.0)
    in_scale, ln_scale, bias = (t.expand([n, c]) for t in (in_scale, ln_scale, bias))
    out_in = F.instance_norm(x.reshape([1, n * c, h, w]),
                             weight=(in_scale * math.sqrt(k_in)).reshape([n * c]),
                             bias=bias.reshape([n * c]), eps=eps * k_in).reshape([n, c, h, w])
    out_ln = F.instance_norm(x.reshape([n, 1, c * h, w]), eps=eps * k_ln).reshape([n, c, h, w])
    return out_in + out_ln * (ln_scale * math.sqrt(k_ln)).reshape([n, c, 1, 1])


def _onnx_instance_layer_norm(x: paddle.Tensor, in_scale: paddle.Tensor, ln_scale: paddle.Tensor,
                              bias: paddle.Tensor, eps: float, unbiased: bool = True) -> paddle.Tensor:
    """The same function with every shape known but the batch: ONNX's InstanceNormalization
    needs its channel count, which the N*C channels of the fused form leave free."""
    _, c, h, w = x.shape
    k_in, k_ln = _unbiased_factors(x) if unbiased else (1.0, 1.0)
    out_in = F.instance_norm(x, eps=eps * k_in)
    out_ln = F.instance_norm(x.reshape([-1, 1, c * h, w]), eps=eps * k_ln).reshape([-1, c, h, w])
    return (out_in * (in_scale * math.sqrt(k_in)).reshape([-1, c, 1, 1])
            + out_ln * (ln_scale * math.sqrt(k_ln)).reshape([-1, c, 1, 1])
            + bias.reshape([-1, c, 1, 1]))


# op -> (switch, kernel) in dygraph; the static forms of exported programs (an op missing
# there takes the layer's reference code: ONNX's reflection padding is the reference F.pad)
_EAGER = {"conv2d": ("onednn_conv", onednn_conv2d),
          "reflection_pad": ("pad_gradient", reflection_pad_cpu),
          "upsample_nearest2x": ("upsample_gradient", upsample_nearest2x_block_gradient),
          "instance_layer_norm": ("fused_norm", fused_instance_layer_norm)}
_STATIC = {"reflection_pad": sliced_reflection_pad,
           "upsample_nearest2x": broadcast_upsample_nearest2x,
           "instance_layer_norm": fused_instance_layer_norm}
_ONNX = {"upsample_nearest2x": _onnx_upsample_nearest2x,
         "instance_layer_norm": _onnx_instance_layer_norm}
