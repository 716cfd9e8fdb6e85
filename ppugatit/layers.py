"""The paper's building blocks, with the official PyTorch code's semantics.

Read beside the papers: AdaILN and ILN (U-GAT-IT's AdaLIN and LIN), spectral norm (Miyato et al., as
PyTorch's ``nn.utils.spectral_norm``), instance norm without affine, the reflection padding and
nearest up-sampling the official networks use, and PyTorch's default initialisation, so that
a fresh network starts from the same distribution as the official code's. The CAM is in
``ppugatit/models/ugatit/networks.py`` (:func:`cam_reweight`), where the networks use it.

Each operation here is its reference form. Where a faster kernel computes the same function
(``ppugatit/kernels/cpu.py``: oneDNN convolutions, hand-written gradients, fused
normalisation), the layer asks for it by name and does not know which one answers.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterable, Iterator

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.kernels.cpu import replacement


# adaptive instance-layer normalisation (U-GAT-IT's AdaLIN)
def _normalise(x: paddle.Tensor, axis: list[int], eps: float, unbiased: bool) -> paddle.Tensor:
    """(x - mean) / sqrt(var + eps) over ``axis``: the variance unbiased (n - 1) as
    ``torch.var`` gives the official PyTorch code, or biased as ``tf.nn.moments`` gives the
    authors' TensorFlow code."""
    n = math.prod(x.shape[a] for a in axis)
    centred = x - x.mean(axis=axis, keepdim=True)
    var = (centred * centred).sum(axis=axis, keepdim=True) / (n - 1 if unbiased else n)
    return centred / paddle.sqrt(var + eps)


def instance_and_layer_norm(x: paddle.Tensor, eps: float,
                            unbiased: bool = True) -> tuple[paddle.Tensor, paddle.Tensor]:
    """The paper's a_I and a_L: ``x`` normalised per channel and per image."""
    return _normalise(x, [2, 3], eps, unbiased), _normalise(x, [1, 2, 3], eps, unbiased)


def instance_layer_norm(x: paddle.Tensor, rho_in: paddle.Tensor, rho_ln: paddle.Tensor,
                        gamma: paddle.Tensor, beta: paddle.Tensor, eps: float,
                        unbiased: bool = True) -> paddle.Tensor:
    """``gamma * (rho_in * a_I + rho_ln * a_L) + beta``, each weight ``[N or 1, C]``.

    U-GAT-IT weighs by rho and 1 - rho, NICE-GAN by a softmax over two rhos."""
    kernel = replacement("instance_layer_norm")
    if kernel is not None:
        return kernel(x, rho_in * gamma, rho_ln * gamma, beta, eps, unbiased)
    a_in, a_ln = instance_and_layer_norm(x, eps, unbiased)
    rho_in, rho_ln, gamma, beta = (t.unsqueeze([2, 3]) for t in (rho_in, rho_ln, gamma, beta))
    return gamma * (rho_in * a_in + rho_ln * a_ln) + beta


class AdaILN(nn.Layer):
    """Adaptive Instance-Layer Normalisation: rho mixes IN and LN; gamma, beta ``[N, C]`` come
    from the MLP on the CAM features. rho starts at 0.9 and is clipped to [0, 1] after each G
    update (:func:`clip_rho`).

    The authors' TensorFlow code differs in three ways, each a switch here: biased variances
    (``unbiased=False``), rho starting at 1, and its ``smoothing`` option, which mixes with
    ``clip(rho - 0.1, 0, 1)`` instead of rho (``smoothing=0.1``).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, unbiased: bool = True,
                 smoothing: float = 0.0, rho_init: float = 0.9):
        super().__init__()
        self.eps, self.unbiased, self.smoothing = eps, unbiased, smoothing
        self.rho = self.create_parameter(
            [1, num_features, 1, 1], default_initializer=nn.initializer.Constant(rho_init))

    def forward(self, x: paddle.Tensor, gamma: paddle.Tensor, beta: paddle.Tensor) -> paddle.Tensor:
        rho = self.rho.reshape([1, -1])
        if self.smoothing:
            rho = (rho - self.smoothing).clip(0.0, 1.0)
        return instance_layer_norm(x, rho, 1 - rho, gamma, beta, self.eps, self.unbiased)


class ILN(nn.Layer):
    """Instance-Layer Normalisation with its own gamma and beta (the decoder's up-sampling);
    rho starts at 0. ``unbiased=False``: the TensorFlow code's biased variances."""

    def __init__(self, num_features: int, eps: float = 1e-5, unbiased: bool = True):
        super().__init__()
        self.eps, self.unbiased = eps, unbiased
        shape = [1, num_features, 1, 1]
        self.rho = self.create_parameter(shape, default_initializer=nn.initializer.Constant(0.0))
        self.gamma = self.create_parameter(shape, default_initializer=nn.initializer.Constant(1.0))
        self.beta = self.create_parameter(shape, default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        rho, gamma, beta = (t.reshape([1, -1]) for t in (self.rho, self.gamma, self.beta))
        return instance_layer_norm(x, rho, 1 - rho, gamma, beta, self.eps, self.unbiased)


@paddle.no_grad()
def clip_rho(network: nn.Layer, low: float = 0.0, high: float = 1.0) -> None:
    """The official RhoClipper: keep every AdaILN/ILN rho in [low, high] after a G update."""
    for layer in network.sublayers(include_self=True):
        if isinstance(layer, (AdaILN, ILN)):
            paddle.assign(layer.rho.clip(low, high), layer.rho)


class InstanceNorm(nn.Layer):
    """Instance norm with PyTorch's ``nn.InstanceNorm2d`` defaults (no affine, biased variance,
    eps 1e-5); with ``num_features``, a learnt per-channel scale and shift, as TensorFlow's
    ``tf.contrib.layers.instance_norm`` in the authors' code."""

    def __init__(self, eps: float = 1e-5, num_features: int | None = None):
        super().__init__()
        self.eps = eps
        self.weight = self.bias = None
        if num_features is not None:
            self.weight = self.create_parameter(
                [num_features], default_initializer=nn.initializer.Constant(1.0))
            self.bias = self.create_parameter(
                [num_features], is_bias=True, default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


# spectral normalisation (PyTorch's nn.utils.spectral_norm)
def torch_uniform(fan_in: int) -> nn.initializer.Uniform:
    """PyTorch's default init for conv/linear weights and biases: U(-1/sqrt(fan_in), +)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return nn.initializer.Uniform(-bound, bound)


def _like(x: paddle.Tensor, buffer: paddle.Tensor) -> paddle.Tensor:
    """``x`` in ``buffer``'s dtype (under AMP the power iteration may run in half precision)."""
    return x if x.dtype == buffer.dtype else x.astype(buffer.dtype)


class _SpectralNorm(nn.Layer):
    """W / sigma(W), sigma by one power iteration per training-mode forward, as PyTorch's
    ``nn.utils.spectral_norm``.

    The raw weight is the parameter ``weight_orig``; ``weight_u`` and ``weight_v`` are persistent
    buffers, so the state dict has the official names. In eval mode the stored u, v are used as
    they are. The power iteration runs without gradient and sigma = u . (W v) is differentiated
    with u, v held constant, exactly as PyTorch does.
    """

    eps = 1e-12
    groups = 1  # see spectral_norm_groups

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

    def sigma(self) -> paddle.Tensor:
        """The largest singular value's estimate; in training, after one power iteration."""
        w_mat = self._weight_matrix(self.weight_orig)
        if not self.training:
            return paddle.dot(self.weight_u, paddle.mv(w_mat, self.weight_v))
        with paddle.no_grad():
            v = F.normalize(paddle.matmul(self.weight_u, w_mat), axis=0, epsilon=self.eps)
        wv = paddle.mv(w_mat, v)  # W v, once: it gives the new u and, with gradient, sigma
        u = F.normalize(wv.detach(), axis=0, epsilon=self.eps)
        # the buffers are rebound, not updated in place: this forward's graph keeps its u, v
        # while the next forward makes new ones
        self.weight_u, self.weight_v = _like(u, self.weight_u), _like(v, self.weight_v)
        return paddle.dot(u, wv)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if self.groups == 1:
            return self.project(x, self.weight_orig / self.sigma(), self.bias)
        # k equal groups met by the weights after 1 .. k power iterations, as k calls would
        k, n = self.groups, x.shape[0]
        sigmas = paddle.stack([self.sigma() for _ in range(k)])
        scale = (1 / sigmas).reshape([k, 1]).expand([k, n // k]).reshape([n])
        y = self.project(x, self.weight_orig, None)
        y = y * scale.reshape([n] + [1] * (y.ndim - 1))
        return y if self.bias is None else y + self.bias.reshape([1, -1] + [1] * (y.ndim - 2))


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

    def project(self, x: paddle.Tensor, weight: paddle.Tensor,
                bias: paddle.Tensor | None) -> paddle.Tensor:
        return conv2d(x, weight, bias, self.stride)


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

    def project(self, x: paddle.Tensor, weight: paddle.Tensor,
                bias: paddle.Tensor | None) -> paddle.Tensor:
        return F.linear(x, weight, bias)


# convolution, padding, up-sampling
def conv2d(x: paddle.Tensor, weight: paddle.Tensor, bias: paddle.Tensor | None = None,
           stride: int = 1) -> paddle.Tensor:
    """An unpadded convolution (the official networks pad separately)."""
    kernel = replacement("conv2d")
    if kernel is not None:
        return kernel(x, weight, bias, stride)
    return F.conv2d(x, weight, bias, stride=stride)


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


class ReflectionPad2D(nn.Layer):
    """``nn.ReflectionPad2d(p)``: the border mirrored, the edge row itself not repeated.

    ``padding`` is one width for every side, or ``(left, right, top, bottom)``: the authors'
    TensorFlow code pads a 3x3 stride-2 convolution by 1 before and 0 after.
    """

    def __init__(self, padding: int | tuple[int, int, int, int]):
        super().__init__()
        self.p = padding

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        if not isinstance(self.p, int):
            return F.pad(x, list(self.p), mode="reflect")
        kernel = replacement("reflection_pad")
        if kernel is not None:
            return kernel(x, self.p)
        return F.pad(x, [self.p] * 4, mode="reflect")


class NearestUpsample2x(nn.Layer):
    """``nn.Upsample(scale_factor=2, mode='nearest')``: each pixel becomes a 2 x 2 block."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        kernel = replacement("upsample_nearest2x")
        if kernel is not None:
            return kernel(x)
        return F.interpolate(x, scale_factor=2, mode="nearest")
