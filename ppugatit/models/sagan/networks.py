"""SAGAN's generator and discriminator, layer for layer as the reference PyTorch code.

The reference is heykeetae/Self-Attention-GAN (``sagan_models.py``, ``spectral.py``). Layer
names and ``nn.Sequential`` indices follow it (``l1.0.module.weight_bar``, ``l1.1.running_var``,
``attn1.query_conv.weight``...), so its state dicts map onto ours by name. Its attention layers'
channels are written for conv_dim 64; here they follow conv_dim at the same places.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.attention import SelfAttention
from ppugatit.layers import Conv2D, torch_uniform


def l2normalize(v: paddle.Tensor, eps: float = 1e-12) -> paddle.Tensor:
    """The reference's normalisation: v / (|v| + eps) (PyTorch's own uses max(|v|, eps))."""
    return v / (paddle.linalg.norm(v) + eps)


class _LateSigma(paddle.autograd.PyLayer):
    """sigma = u . (W v), differentiated with the u, v its layer holds when backward runs.

    The reference overwrites ``u.data``/``v.data`` at every forward without copying them, and
    autograd reads the tensors it saved when backward runs: a network run twice before one
    backward (SAGAN's discriminator on real, then fake images) gets d sigma/dW = u v^T from its
    *latest* power iteration in both graphs. Paddle refuses such in-place changes, so this
    function reproduces the reference's arithmetic explicitly. Giving each forward its own u, v
    instead (as PyTorch's built-in spectral norm does) fails 21 of the fixture's 89 checks.
    """

    @staticmethod
    def forward(ctx, w_mat: paddle.Tensor, holder: nn.Layer) -> paddle.Tensor:
        ctx.holder = holder
        return paddle.dot(holder.weight_u, paddle.mv(w_mat, holder.weight_v))

    @staticmethod
    def backward(ctx, grad: paddle.Tensor) -> paddle.Tensor:
        return grad * paddle.outer(ctx.holder.weight_u, ctx.holder.weight_v)


class _SNWeights(nn.Layer):
    """What the reference's SpectralNorm leaves in the layer it wraps (its ``module``): the raw
    weight ``weight_bar``, ``bias``, and ``weight_u``, ``weight_v`` (non-trainable)."""

    def __init__(self, weight_shape: list[int], fan_in: int, bias_size: int):
        super().__init__()
        init = torch_uniform(fan_in)
        self.weight_bar = self.create_parameter(weight_shape, default_initializer=init)
        self.bias = self.create_parameter([bias_size], is_bias=True, default_initializer=init)
        self.register_buffer("weight_u", l2normalize(paddle.randn([weight_shape[0]])))
        self.register_buffer("weight_v", l2normalize(paddle.randn([math.prod(weight_shape[1:])])))


class SAGANSpectralNorm(nn.Layer):
    """The reference SAGAN's spectral norm around a convolution (transposed or not).

    Why not ``ppugatit.layers.SNConv2D`` (PyTorch's built-in semantics, which U-GAT-IT needs)?
    The SAGAN reference brings its own spectral norm, and its fixture follows it: one power
    iteration at *every* forward, eval mode included; u, v stored as ``weight_u``/``weight_v``
    next to the raw ``weight_bar``; the [out, in] matrix is the weight reshaped on its first
    axis (for a transposed convolution that is the input channels); and sigma's gradient comes
    from the latest u, v (see :class:`_LateSigma`). The power iteration itself is the same maths.

    ``power_iteration = False`` (see :func:`fixed_singular_vectors`) uses the stored u, v as
    they are, for side-effect-free sampling and export.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, transpose: bool = False):
        super().__init__()
        self.stride, self.padding, self.transpose = stride, padding, transpose
        k2 = kernel_size * kernel_size
        # PyTorch lays both out as [dim 0, dim 1, k, k] and takes fan_in from dim 1
        fan_in = (out_channels if transpose else in_channels) * k2
        shape = ([in_channels, out_channels] if transpose else [out_channels, in_channels])
        self.module = _SNWeights(shape + [kernel_size, kernel_size], fan_in, out_channels)
        self.power_iteration = True

    def sn_weight(self) -> paddle.Tensor:
        m = self.module
        w = m.weight_bar
        w_mat = w.reshape([w.shape[0], -1])
        if self.power_iteration:
            with paddle.no_grad():
                v = l2normalize(paddle.matmul(m.weight_u, w_mat))  # u W: no transposed copy
                u = l2normalize(paddle.mv(w_mat, v))
                paddle.assign(v, m.weight_v)
                paddle.assign(u, m.weight_u)
        if not paddle.in_dynamic_mode():  # an exported program: no backward, and Paddle
            # Inference cannot load the region a PyLayer becomes
            return w / paddle.dot(m.weight_u, paddle.mv(w_mat, m.weight_v))
        return w / _LateSigma.apply(w_mat, m)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        conv = F.conv2d_transpose if self.transpose else F.conv2d
        return conv(x, self.sn_weight(), self.module.bias, stride=self.stride,
                    padding=self.padding)


def spectral_norms(net: nn.Layer) -> list[SAGANSpectralNorm]:
    return [m for m in net.sublayers(include_self=True) if isinstance(m, SAGANSpectralNorm)]


@contextlib.contextmanager
def fixed_singular_vectors(net: nn.Layer) -> Iterator[None]:
    """Within the block, ``net``'s SAGAN spectral norms use their stored u, v unchanged."""
    layers = spectral_norms(net)
    previous = [m.power_iteration for m in layers]
    for m in layers:
        m.power_iteration = False
    try:
        yield
    finally:
        for m, flag in zip(layers, previous):
            m.power_iteration = flag


class BatchNorm2D(nn.Layer):
    """PyTorch's ``nn.BatchNorm2d``, running statistics included.

    Paddle's BatchNorm2D normalises the same way (its momentum 0.9 is PyTorch's 0.1), but
    updates the running variance with the *biased* batch variance, where PyTorch uses the
    unbiased one; evaluation-mode outputs would drift from the reference's. This layer updates
    ``running_var`` with the unbiased variance and keeps PyTorch's ``num_batches_tracked``.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = self.create_parameter(
            [num_features], default_initializer=nn.initializer.Constant(1.0))
        self.bias = self.create_parameter(
            [num_features], is_bias=True, default_initializer=nn.initializer.Constant(0.0))
        self.register_buffer("running_mean", paddle.zeros([num_features]))
        self.register_buffer("running_var", paddle.ones([num_features]))
        self.register_buffer("num_batches_tracked", paddle.to_tensor(0, dtype="int64"))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        dtype = x.dtype
        if dtype != paddle.float32:  # mixed precision: statistics in float32
            x = x.astype("float32")
        shape = [1, -1, 1, 1]
        if self.training:
            mean = x.mean(axis=[0, 2, 3])
            var = ((x - mean.reshape(shape)) ** 2).mean(axis=[0, 2, 3])
            with paddle.no_grad():
                n = math.prod(x.shape) // x.shape[1]
                m = self.momentum
                paddle.assign((1 - m) * self.running_mean + m * mean, self.running_mean)
                paddle.assign((1 - m) * self.running_var + m * var * (n / max(n - 1, 1)),
                              self.running_var)
                paddle.assign(self.num_batches_tracked + 1, self.num_batches_tracked)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.reshape(shape)) / paddle.sqrt(var.reshape(shape) + self.eps)
        out = x_hat * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out if dtype == paddle.float32 else out.astype(dtype)


class ConvTranspose2D(nn.Conv2DTranspose):
    """A transposed convolution initialised as PyTorch's ``nn.ConvTranspose2d`` (same layout)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        init = torch_uniform(out_channels * kernel_size * kernel_size)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         weight_attr=paddle.ParamAttr(initializer=init),
                         bias_attr=paddle.ParamAttr(initializer=init))


def _up(in_dim: int, out_dim: int, stride: int = 2, padding: int = 1) -> nn.Sequential:
    return nn.Sequential(SAGANSpectralNorm(in_dim, out_dim, 4, stride, padding, transpose=True),
                         BatchNorm2D(out_dim), nn.ReLU())


def _down(in_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(SAGANSpectralNorm(in_dim, out_dim, 4, 2, 1), nn.LeakyReLU(0.1))


class Generator(nn.Layer):
    """z -> 64 px image: transposed convolutions 1 -> 4 -> 8 -> 16 -> 32 -> 64 px, attention
    on the 16 and 32 px maps. ``forward`` returns ``(image, attn1, attn2)``, the maps being
    ``[N, 256, 256]`` and ``[N, 1024, 1024]``."""

    def __init__(self, z_dim: int = 128, conv_dim: int = 64):
        super().__init__()
        mult = 8  # 2 ** (log2(64) - 3)
        dim = conv_dim * mult
        self.l1 = _up(z_dim, dim, stride=1, padding=0)
        self.l2 = _up(dim, dim // 2)
        self.l3 = _up(dim // 2, dim // 4)
        self.l4 = _up(dim // 4, dim // 8)
        self.last = nn.Sequential(ConvTranspose2D(dim // 8, 3, 4, 2, 1), nn.Tanh())
        self.attn1 = SelfAttention(dim // 4)
        self.attn2 = SelfAttention(dim // 8)

    def forward(self, z: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        out = self.l3(self.l2(self.l1(z.unsqueeze([2, 3]))))
        out, p1 = self.attn1(out)
        out, p2 = self.attn2(self.l4(out))
        return self.last(out), p1, p2


class Discriminator(nn.Layer):
    """64 px image -> one logit per image: strided convolutions 64 -> 32 -> 16 -> 8 -> 4 px,
    attention on the 8 and 4 px maps. ``forward`` returns ``(logit [N], attn1, attn2)``."""

    def __init__(self, conv_dim: int = 64):
        super().__init__()
        self.l1 = _down(3, conv_dim)
        self.l2 = _down(conv_dim, conv_dim * 2)
        self.l3 = _down(conv_dim * 2, conv_dim * 4)
        self.l4 = _down(conv_dim * 4, conv_dim * 8)
        self.last = nn.Sequential(Conv2D(conv_dim * 8, 1, 4))
        self.attn1 = SelfAttention(conv_dim * 4)
        self.attn2 = SelfAttention(conv_dim * 8)

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        out = self.l3(self.l2(self.l1(x)))
        out, p1 = self.attn1(out)
        out, p2 = self.attn2(self.l4(out))
        return self.last(out).reshape([-1]), p1, p2
