"""Building blocks shared by the models, with the official PyTorch semantics.

Weights are initialised like PyTorch's defaults (uniform in +-1/sqrt(fan_in)) so that a fresh
network starts from the same distribution as the official code's.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterable, Iterator

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


_ONEDNN_CONV = {"enabled": False}
_ONNX_GRAPH = {"enabled": False}
_STATIC_CONVS: dict = {}
# Forward FLOPs below which a convolution stays eager even with oneDNN on: each conv program
# costs about 0.5 ms (forward and backward) before any arithmetic, more than Paddle's eager
# kernel needs for such a conv. Measured per conv shape in the demo and light-128 steps.
ONEDNN_MIN_FLOPS = 8e6


def use_onednn_conv(enabled: bool) -> None:
    """Run convolutions through oneDNN on CPU (3-6x faster forward and backward).

    Paddle's eager CPU conv2d is im2col + a single-threaded GEMM; its oneDNN kernels are only
    reached from a static program run with ``FLAGS_use_onednn``. So each convolution of at
    least ``ONEDNN_MIN_FLOPS`` becomes a tiny ``to_static`` program (cached per stride); the
    rest of the step, the bias included, stays eager.
    """
    _ONEDNN_CONV["enabled"] = enabled


@contextlib.contextmanager
def onednn_programs() -> Iterator[None]:
    """``FLAGS_use_onednn`` on while our convolution programs run: their forward (in
    :func:`conv2d`) and their backward (wrap ``loss.backward()``). Only then: left on, the flag
    would also steer programs that are not ours (an export, a Paddle Inference predictor)."""
    if not _ONEDNN_CONV["enabled"]:
        yield
        return
    previous = paddle.get_flags(["FLAGS_use_onednn"])["FLAGS_use_onednn"]
    paddle.set_flags({"FLAGS_use_onednn": True})
    try:
        yield
    finally:
        paddle.set_flags({"FLAGS_use_onednn": previous})


@contextlib.contextmanager
def onnx_graph() -> Iterator[None]:
    """Trace static programs for ONNX (``ppugatit/export.py``): reflection padding as one pad,
    up-sampling as one resize, normalisation over the known channel count. paddle2onnx needs
    the last with a free batch size; ONNX Runtime runs the first two as single kernels, where
    the slices and broadcasts tuned for Paddle Inference cost it 2-3x their time."""
    previous = _ONNX_GRAPH["enabled"]
    _ONNX_GRAPH["enabled"] = True
    try:
        yield
    finally:
        _ONNX_GRAPH["enabled"] = previous


def _onnx_tracing() -> bool:
    return _ONNX_GRAPH["enabled"] and not paddle.in_dynamic_mode()


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


def conv2d(x: paddle.Tensor, weight: paddle.Tensor, bias: paddle.Tensor | None = None,
           stride: int = 1) -> paddle.Tensor:
    """``F.conv2d`` without padding, through oneDNN when :func:`use_onednn_conv` is on and the
    convolution is large enough to repay a program's fixed cost."""
    if (_ONEDNN_CONV["enabled"] and paddle.in_dynamic_mode()
            and conv_flops(x.shape, weight.shape, stride) >= ONEDNN_MIN_FLOPS):
        with onednn_programs():
            y = _static_conv(stride)(x, weight)
        # the bias outside the program: inside, it costs a reshape, an add and their
        # gradients in oneDNN layout, 5-9% of a small step
        return y if bias is None else y + bias.reshape([1, -1, 1, 1])
    return F.conv2d(x, weight, bias, stride=stride)


def torch_uniform(fan_in: int) -> nn.initializer.Uniform:
    """PyTorch's default init for conv/linear weights and biases: U(-1/sqrt(fan_in), +)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return nn.initializer.Uniform(-bound, bound)


class Conv2D(nn.Conv2D):
    """A Conv2D initialised as PyTorch initialises nn.Conv2d (no padding: the official code
    pads with ReflectionPad2d)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True):
        init = torch_uniform(in_channels * kernel_size * kernel_size)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride,
                         weight_attr=paddle.ParamAttr(initializer=init),
                         bias_attr=paddle.ParamAttr(initializer=init) if bias else False)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return conv2d(x, self.weight, self.bias, self._stride[0])


class Linear(nn.Linear):
    """A Linear initialised as PyTorch initialises nn.Linear (Paddle stores it [in, out])."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        init = torch_uniform(in_features)
        super().__init__(in_features, out_features,
                         weight_attr=paddle.ParamAttr(initializer=init),
                         bias_attr=paddle.ParamAttr(initializer=init) if bias else False)


def _like(x: paddle.Tensor, buffer: paddle.Tensor) -> paddle.Tensor:
    """``x`` in ``buffer``'s dtype (under AMP the power iteration may run in half precision)."""
    return x if x.dtype == buffer.dtype else x.astype(buffer.dtype)


class _SpectralNorm(nn.Layer):
    """PyTorch's ``nn.utils.spectral_norm`` (one power iteration per training-mode forward).

    The raw weight is the parameter ``weight_orig``; ``weight_u`` and ``weight_v`` are persistent
    buffers, so the state dict has the official names. In eval mode the stored u, v are used as
    they are. The power iteration runs without gradient and sigma = u . (W v) is differentiated
    with u, v held constant, exactly as PyTorch does.
    """

    eps = 1e-12
    groups = 1

    def _init_sn(self, weight_shape: list[int], fan_in: int, out_dim: int, in_dim: int) -> None:
        self.weight_orig = self.create_parameter(
            weight_shape, default_initializer=torch_uniform(fan_in))
        u = F.normalize(paddle.randn([out_dim]), axis=0, epsilon=self.eps)
        v = F.normalize(paddle.randn([in_dim]), axis=0, epsilon=self.eps)
        self.register_buffer("weight_u", u)
        self.register_buffer("weight_v", v)

    def _weight_matrix(self, w: paddle.Tensor) -> paddle.Tensor:
        """The [out, in] matrix PyTorch's spectral norm works on."""
        return w.reshape([w.shape[0], -1])

    def sigmas(self) -> list[paddle.Tensor]:
        """sigma of each of the ``groups`` training-mode forwards that one call stands for (see
        :func:`spectral_norm_groups`), one power iteration apart."""
        w_mat = self._weight_matrix(self.weight_orig)
        if not self.training:
            return [paddle.dot(self.weight_u, paddle.mv(w_mat, self.weight_v))] * self.groups
        sigmas, u = [], self.weight_u
        for _ in range(self.groups):
            with paddle.no_grad():
                v = F.normalize(paddle.matmul(u, w_mat), axis=0, epsilon=self.eps)
            wv = paddle.mv(w_mat, v)  # W v, once: it gives the new u and, with gradient, sigma
            u = F.normalize(wv.detach(), axis=0, epsilon=self.eps)
            sigmas.append(paddle.dot(u, wv))
        # the buffers are rebound, not updated in place: this forward's graph keeps its u, v
        # while the next forward makes new ones
        self.weight_u, self.weight_v = _like(u, self.weight_u), _like(v, self.weight_v)
        return sigmas

    @staticmethod
    def per_sample(sigmas: list[paddle.Tensor], n: int) -> paddle.Tensor:
        """1 / sigma for each of ``n`` samples, the batch being ``len(sigmas)`` equal groups."""
        k = len(sigmas)
        return (1 / paddle.stack(sigmas)).reshape([k, 1]).expand([k, n // k]).reshape([n, 1])


class SNConv2D(_SpectralNorm):
    """Spectral-normed Conv2d without padding (the official code pads with ReflectionPad2d)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 bias: bool = True):
        super().__init__()
        self.stride = stride
        fan_in = in_channels * kernel_size * kernel_size
        self._init_sn([out_channels, in_channels, kernel_size, kernel_size], fan_in,
                      out_channels, fan_in)
        self.bias = (self.create_parameter([out_channels], is_bias=True,
                                           default_initializer=torch_uniform(fan_in))
                     if bias else None)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        sigmas = self.sigmas()
        if len(sigmas) == 1:
            return conv2d(x, self.weight_orig / sigmas[0], self.bias, self.stride)
        # conv(x, W / sigma) = conv(x, W) / sigma: one convolution serves every group
        y = conv2d(x, self.weight_orig, None, self.stride)
        y = y * self.per_sample(sigmas, x.shape[0]).reshape([-1, 1, 1, 1])
        return y if self.bias is None else y + self.bias.reshape([1, -1, 1, 1])


class SNLinear(_SpectralNorm):
    """Spectral-normed Linear, weight stored as Paddle does ([in, out])."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self._init_sn([in_features, out_features], in_features, out_features, in_features)
        self.bias = (self.create_parameter([out_features], is_bias=True,
                                           default_initializer=torch_uniform(in_features))
                     if bias else None)

    def _weight_matrix(self, w: paddle.Tensor) -> paddle.Tensor:
        return w.t()

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        sigmas = self.sigmas()
        if len(sigmas) == 1:
            return F.linear(x, self.weight_orig / sigmas[0], self.bias)
        y = F.linear(x, self.weight_orig) * self.per_sample(sigmas, x.shape[0])
        return y if self.bias is None else y + self.bias


@contextlib.contextmanager
def spectral_norm_groups(networks: Iterable[nn.Layer], k: int) -> Iterator[None]:
    """Within it, one forward of a batch made of ``k`` equal groups stands for ``k`` forwards
    of the groups one after the other: the i-th group meets the weights after i + 1 power
    iterations, as in separate calls (PyTorch's spectral norm iterates once per call), and the
    layer's output is scaled by that group's 1 / sigma instead of the weight, so that one
    convolution serves all groups. For networks whose other operations are per sample, as the
    U-GAT-IT discriminators' are; the same function up to float32 rounding."""
    norms = [m for net in networks for m in net.sublayers() if isinstance(m, _SpectralNorm)]
    for m in norms:
        m.groups = k
    try:
        yield
    finally:
        for m in norms:
            m.groups = 1


def _flipped_ends(x: paddle.Tensor, p: int, axis: int, skip: int) -> tuple[paddle.Tensor, ...]:
    """The ``p`` rows (axis 2) or columns (axis 3) after the first ``skip`` and before the last
    ``skip`` along ``axis``, each block flipped (one row needs no flip)."""
    n = x.shape[axis]
    head = paddle.slice(x, [axis], [skip], [skip + p])
    tail = paddle.slice(x, [axis], [n - p - skip], [n - skip])
    if p > 1:
        head, tail = paddle.flip(head, [axis]), paddle.flip(tail, [axis])
    return head, tail


def reflection_pad(x: paddle.Tensor, p: int) -> paddle.Tensor:
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


class _ReflectionPadCPU(paddle.autograd.PyLayer):
    """Reflection padding with a hand-written gradient: autograd's gradient of the slices and
    concatenations builds a full-size tensor per slice and sums them; this one adds only the
    edges. 1.5-2.5x faster than either pad3d or autograd's slices on CPU maps of 32 x 32 and
    more (forward plus backward; pad3d's single kernel wins on tiny maps)."""

    @staticmethod
    def forward(ctx, x: paddle.Tensor, p: int) -> paddle.Tensor:
        ctx.p = p
        return reflection_pad(x, p)

    @staticmethod
    def backward(ctx, g: paddle.Tensor) -> paddle.Tensor:
        return _fold_reflected(_fold_reflected(g, ctx.p, 3), ctx.p, 2)


class ReflectionPad2D(nn.Pad2D):
    """Reflection padding by the fastest of three exact ways: Paddle's pad3d on GPU and on
    small CPU maps, slices in exported programs, slices with a hand-written gradient otherwise."""

    SMALL = 16384  # elements; measured forward plus backward, 8-256 channels, 8-128 px

    def __init__(self, padding: int):
        super().__init__(padding, mode="reflect")
        self.p = padding

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if _onnx_tracing():
            return super().forward(x)
        if not paddle.in_dynamic_mode():
            return reflection_pad(x, self.p)
        if not x.place.is_cpu_place() or x.size < self.SMALL:
            return super().forward(x)
        return _ReflectionPadCPU.apply(x, self.p)


def _upsample_nearest2x(x: paddle.Tensor) -> paddle.Tensor:
    n, c, h, w = x.shape
    return x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w])


class _UpsampleNearest2x(paddle.autograd.PyLayer):
    """The broadcast with its gradient as one sum over each 2 x 2 block: the same numbers as
    autograd's expand gradient in about 60% of its time on CPU."""

    @staticmethod
    def forward(ctx, x: paddle.Tensor) -> paddle.Tensor:
        return _upsample_nearest2x(x)

    @staticmethod
    def backward(ctx, g: paddle.Tensor) -> paddle.Tensor:
        n, c, h, w = g.shape
        return g.reshape([n, c, h // 2, 2, w // 2, 2]).sum(axis=[3, 5])


class NearestUpsample2x(nn.Layer):
    """``nn.Upsample(scale_factor=2, mode='nearest')`` as a broadcast: the same values, and
    forward plus backward take about a third of the time of Paddle's nearest_interp on CPU."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if paddle.in_dynamic_mode():
            return _UpsampleNearest2x.apply(x)
        if _onnx_tracing():
            return F.interpolate(x, size=[2 * x.shape[2], 2 * x.shape[3]], mode="nearest")
        return _upsample_nearest2x(x)


class InstanceNorm(nn.Layer):
    """Non-affine instance norm (PyTorch's ``nn.InstanceNorm2d`` default: biased var, eps 1e-5)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.instance_norm(x, eps=self.eps)


def _unbiased_factors(x: paddle.Tensor) -> tuple[float, float]:
    """(n-1)/n of instance (h w elements) and layer (c h w elements) statistics.

    Paddle's fused kernels use the biased variance; with n elements,
    (x - m) / sqrt(var_u + eps) = sqrt((n-1)/n) * (x - m) / sqrt(var_b + eps (n-1)/n),
    so scaling eps and the output gives the official unbiased function, about 3x faster than
    writing out mean and variance and closer to float64. docs/alignment.md says how this
    choice was measured against the official code.
    """
    _, c, h, w = x.shape
    return (h * w - 1) / (h * w), (c * h * w - 1) / (c * h * w)


def mixed_instance_layer_norm(x: paddle.Tensor, in_scale: paddle.Tensor, ln_scale: paddle.Tensor,
                              bias: paddle.Tensor, eps: float) -> paddle.Tensor:
    """``in_scale * IN(x) + ln_scale * LN(x) + bias``, scales and bias ``[N, C]``, IN and LN
    with the unbiased variance as the official codes compute them.

    Half the time of mixing separately normalised tensors: the instance part's scale and bias
    ride in the fused kernel's affine step (x seen as one image of N*C channels, so the affine
    weights may differ per sample), leaving one multiply-add.
    """
    n, c, h, w = x.shape
    k_in, k_ln = _unbiased_factors(x)
    if _onnx_tracing():
        return _mixed_norm_for_onnx(x, in_scale * math.sqrt(k_in), ln_scale * math.sqrt(k_ln),
                                    bias, eps * k_in, eps * k_ln)
    out_in = F.instance_norm(x.reshape([1, n * c, h, w]),
                             weight=(in_scale * math.sqrt(k_in)).reshape([n * c]),
                             bias=bias.reshape([n * c]), eps=eps * k_in).reshape([n, c, h, w])
    # the layer statistics as one instance-norm channel per image: on CPU a third of the time
    # of Paddle's layer_norm forward plus backward, and Paddle Inference's oneDNN layer norm
    # would take only the last axis (and run on one thread)
    out_ln = F.instance_norm(x.reshape([n, 1, c * h, w]), eps=eps * k_ln).reshape([n, c, h, w])
    return out_in + out_ln * (ln_scale * math.sqrt(k_ln)).reshape([n, c, 1, 1])


def _mixed_norm_for_onnx(x: paddle.Tensor, in_scale: paddle.Tensor, ln_scale: paddle.Tensor,
                         bias: paddle.Tensor, eps_in: float, eps_ln: float) -> paddle.Tensor:
    """The same function with every shape known but the batch: ONNX's InstanceNormalization
    needs its channel count, which the N*C channels of the fused form leave free."""
    _, c, h, w = x.shape
    out_in = F.instance_norm(x, eps=eps_in)
    out_ln = F.instance_norm(x.reshape([-1, 1, c * h, w]), eps=eps_ln).reshape([-1, c, h, w])
    return (out_in * in_scale.reshape([-1, c, 1, 1]) + out_ln * ln_scale.reshape([-1, c, 1, 1])
            + bias.reshape([-1, c, 1, 1]))


class AdaILN(nn.Layer):
    """Adaptive Instance-Layer Normalisation: rho mixes IN and LN; gamma, beta come from the MLP.

    The official (rho IN + (1 - rho) LN) gamma + beta, as rho gamma IN + (1 - rho) gamma LN + beta.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.rho = self.create_parameter(
            [1, num_features, 1, 1], default_initializer=nn.initializer.Constant(0.9))

    def forward(self, x: paddle.Tensor, gamma: paddle.Tensor, beta: paddle.Tensor) -> paddle.Tensor:
        rho = self.rho.reshape([1, -1])
        return mixed_instance_layer_norm(x, rho * gamma, (1 - rho) * gamma, beta, self.eps)


class ILN(nn.Layer):
    """Instance-Layer Normalisation with its own gamma and beta (the decoder's up-sampling)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        shape = [1, num_features, 1, 1]
        self.rho = self.create_parameter(shape, default_initializer=nn.initializer.Constant(0.0))
        self.gamma = self.create_parameter(shape, default_initializer=nn.initializer.Constant(1.0))
        self.beta = self.create_parameter(shape, default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        n, c = x.shape[0], x.shape[1]
        rho, gamma = self.rho.reshape([1, c]), self.gamma.reshape([1, c])
        return mixed_instance_layer_norm(x, (rho * gamma).expand([n, c]),
                                         ((1 - rho) * gamma).expand([n, c]),
                                         self.beta.reshape([1, c]).expand([n, c]), self.eps)


@paddle.no_grad()
def clip_rho(network: nn.Layer, low: float = 0.0, high: float = 1.0) -> None:
    """The official RhoClipper: keep every AdaILN/ILN rho in [low, high] after a G update."""
    for layer in network.sublayers(include_self=True):
        if isinstance(layer, (AdaILN, ILN)):
            paddle.assign(layer.rho.clip(low, high), layer.rho)
