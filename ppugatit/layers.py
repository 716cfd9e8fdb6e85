"""Building blocks shared by the models, with the official PyTorch semantics.

Weights are initialised like PyTorch's defaults (uniform in +-1/sqrt(fan_in)) so that a fresh
network starts from the same distribution as the official code's.
"""
from __future__ import annotations

import math

import paddle
import paddle.nn as nn
import paddle.nn.functional as F


def torch_uniform(fan_in: int) -> nn.initializer.Uniform:
    """PyTorch's default init for conv/linear weights and biases: U(-1/sqrt(fan_in), +)."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return nn.initializer.Uniform(-bound, bound)


class Conv2D(nn.Conv2D):
    """A Conv2D initialised as PyTorch initialises nn.Conv2d."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        init = torch_uniform(in_channels * kernel_size * kernel_size)
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         weight_attr=paddle.ParamAttr(initializer=init),
                         bias_attr=paddle.ParamAttr(initializer=init) if bias else False)


class Linear(nn.Linear):
    """A Linear initialised as PyTorch initialises nn.Linear (Paddle stores it [in, out])."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        init = torch_uniform(in_features)
        super().__init__(in_features, out_features,
                         weight_attr=paddle.ParamAttr(initializer=init),
                         bias_attr=paddle.ParamAttr(initializer=init) if bias else False)


class _SpectralNorm(nn.Layer):
    """PyTorch's ``nn.utils.spectral_norm`` (one power iteration per training-mode forward).

    The raw weight is the parameter ``weight_orig``; ``weight_u`` and ``weight_v`` are persistent
    buffers, so the state dict has the official names. In eval mode the stored u, v are used as
    they are. The power iteration runs without gradient and sigma = u . (W v) is differentiated
    with u, v held constant, exactly as PyTorch does.
    """

    eps = 1e-12

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

    def sn_weight(self) -> paddle.Tensor:
        w = self.weight_orig
        w_mat = self._weight_matrix(w)
        if self.training:
            with paddle.no_grad():
                v = F.normalize(paddle.mv(w_mat.t(), self.weight_u), axis=0, epsilon=self.eps)
                u = F.normalize(paddle.mv(w_mat, v), axis=0, epsilon=self.eps)
                paddle.assign(v, self.weight_v)
                paddle.assign(u, self.weight_u)
        # copies, because the next forward updates the buffers in place while this graph needs them
        u, v = self.weight_u.clone(), self.weight_v.clone()
        return w / paddle.dot(u, paddle.mv(w_mat, v))


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
        return F.conv2d(x, self.sn_weight(), self.bias, stride=self.stride)


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
        return F.linear(x, self.sn_weight(), self.bias)


class ReflectionPad2D(nn.Pad2D):
    def __init__(self, padding: int):
        super().__init__(padding, mode="reflect")


class InstanceNorm(nn.Layer):
    """Non-affine instance norm (PyTorch's ``nn.InstanceNorm2d`` default: biased var, eps 1e-5)."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.instance_norm(x, eps=self.eps)


def instance_layer_norm(x: paddle.Tensor, eps: float) -> tuple[paddle.Tensor, paddle.Tensor]:
    """Instance- and layer-normalised x with the *unbiased* variance, as the official ILN.

    Written out as the official code computes it (mean, unbiased var, divide). Paddle's fused
    instance_norm/layer_norm kernels give the same values (the unbiased variance is the fused
    kernels' biased one with eps and output scaled by (n-1)/n), but a different float32
    rounding pattern, and a one-step Adam update amplifies such noise wherever a gradient is
    near zero: with the fused kernels one rho element of the shipped full-model fixture flips
    sign. See docs/alignment.md.
    """
    _, c, h, w = x.shape
    in_mean = x.mean(axis=[2, 3], keepdim=True)
    in_var = ((x - in_mean) ** 2).sum(axis=[2, 3], keepdim=True) / (h * w - 1)
    ln_mean = x.mean(axis=[1, 2, 3], keepdim=True)
    ln_var = ((x - ln_mean) ** 2).sum(axis=[1, 2, 3], keepdim=True) / (c * h * w - 1)
    return (x - in_mean) / paddle.sqrt(in_var + eps), (x - ln_mean) / paddle.sqrt(ln_var + eps)


class AdaILN(nn.Layer):
    """Adaptive Instance-Layer Normalisation: rho mixes IN and LN; gamma, beta come from the MLP."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.rho = self.create_parameter(
            [1, num_features, 1, 1], default_initializer=nn.initializer.Constant(0.9))

    def forward(self, x: paddle.Tensor, gamma: paddle.Tensor, beta: paddle.Tensor) -> paddle.Tensor:
        out_in, out_ln = instance_layer_norm(x, self.eps)
        out = self.rho * out_in + (1 - self.rho) * out_ln
        return out * gamma.unsqueeze([2, 3]) + beta.unsqueeze([2, 3])


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
        out_in, out_ln = instance_layer_norm(x, self.eps)
        out = self.rho * out_in + (1 - self.rho) * out_ln
        return out * self.gamma + self.beta


@paddle.no_grad()
def clip_rho(network: nn.Layer, low: float = 0.0, high: float = 1.0) -> None:
    """The official RhoClipper: keep every AdaILN/ILN rho in [low, high] after a G update."""
    for layer in network.sublayers(include_self=True):
        if isinstance(layer, (AdaILN, ILN)):
            paddle.assign(layer.rho.clip(low, high), layer.rho)
