"""NICE-GAN networks, layer for layer as the official PyTorch ``networks.py`` (alpc91/NICE-GAN).

What differs from U-GAT-IT: the generator has no encoder (it decodes the *discriminator's*
encoding ``z``), its AdaILN/ILN weigh instance and layer normalisation by a softmax over a learned
``[1, C, 2]`` rho instead of a clipped ``[1, C, 1, 1]`` one, it up-samples by sub-pixel
convolution (PixelShuffle), and one discriminator per domain holds the shared encoder, the CAM
(one linear layer over the concatenated pooled features, a residual weight ``lamda``) and a local
and a global head. Sub-layer names and ``nn.Sequential`` indices are the official ones, so our
state-dict keys are the official keys.
"""
from __future__ import annotations

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.layers import (Conv2D, Linear, ReflectionPad2D, SNConv2D, SNLinear,
                             instance_layer_norm)
from ppugatit.models.ugatit.networks import ResnetAdaILNBlock, cam_reweight


def softmax_weights(rho: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
    """NICE-GAN's IN and LN weights, ``softmax(rho)[..., 0]`` and ``[..., 1]``, each ``[1, C]``."""
    w = F.softmax(rho, axis=2)
    return w[:, :, 0], w[:, :, 1]


class AdaILN(nn.Layer):
    """NICE-GAN's adaILN: rho ``[1, C, 2]``, softmaxed, starts at (3.2, 1); gamma, beta come
    from the MLP."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        init = np.tile(np.float32([3.2, 1.0]), (1, num_features, 1))
        self.rho = self.create_parameter(
            [1, num_features, 2], default_initializer=nn.initializer.Assign(init))

    def forward(self, x: paddle.Tensor, gamma: paddle.Tensor, beta: paddle.Tensor) -> paddle.Tensor:
        w_in, w_ln = softmax_weights(self.rho)
        return instance_layer_norm(x, w_in, w_ln, gamma, beta, self.eps)


class ILN(nn.Layer):
    """NICE-GAN's ILN: rho ``[1, C, 2]`` (softmaxed, starts at (1, 3.2)), own gamma and beta."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        init = np.tile(np.float32([1.0, 3.2]), (1, num_features, 1))
        self.rho = self.create_parameter(
            [1, num_features, 2], default_initializer=nn.initializer.Assign(init))
        shape = [1, num_features, 1, 1]
        self.gamma = self.create_parameter(shape, default_initializer=nn.initializer.Constant(1.0))
        self.beta = self.create_parameter(shape, default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        w_in, w_ln = softmax_weights(self.rho)
        return instance_layer_norm(x, w_in, w_ln, self.gamma.reshape([1, -1]),
                                   self.beta.reshape([1, -1]), self.eps)


class ResnetGenerator(nn.Layer):
    """The decoder: z (``[N, 2*ngf, img/4, img/4]``, a discriminator's encoding) -> image.

    ``UpBlock0`` lifts z to 4*ngf channels, the gamma/beta MLP (``light``: on the pooled map)
    drives the AdaILN residual blocks, and two sub-pixel stages up-sample to full size.
    ``input_nc`` is unused, as in the official code (the input is z, not an image).
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_blocks: int = 6,
                 img_size: int = 256, light: bool = False):
        super().__init__()
        assert n_blocks >= 0
        self.n_blocks = n_blocks
        self.light = light
        n_downsampling = 2
        mult = 2 ** n_downsampling
        dim = ngf * mult

        self.UpBlock0 = nn.Sequential(ReflectionPad2D(1), Conv2D(dim // 2, dim, 3, bias=True),
                                      ILN(dim), nn.ReLU())
        fc_in = dim if light else (img_size // mult) * (img_size // mult) * dim
        self.FC = nn.Sequential(Linear(fc_in, dim, bias=False), nn.ReLU(),
                                Linear(dim, dim, bias=False), nn.ReLU())
        self.gamma = Linear(dim, dim, bias=False)
        self.beta = Linear(dim, dim, bias=False)
        for i in range(n_blocks):
            setattr(self, "UpBlock1_" + str(i + 1), ResnetAdaILNBlock(dim, norm=AdaILN))

        up = []
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            half = ngf * mult // 2
            up += [ReflectionPad2D(1), Conv2D(ngf * mult, half, 3, bias=False), ILN(half),
                   nn.ReLU(), Conv2D(half, half * 4, 1, bias=True), nn.PixelShuffle(2), ILN(half),
                   nn.ReLU()]
        up += [ReflectionPad2D(3), Conv2D(ngf, output_nc, 7, bias=False), nn.Tanh()]
        self.UpBlock2 = nn.Sequential(*up)

    def forward(self, z: paddle.Tensor) -> paddle.Tensor:
        x = self.UpBlock0(z)
        n = x.shape[0]
        if self.light:
            x_ = self.FC(F.adaptive_avg_pool2d(x, 1).reshape([n, -1]))
        else:
            x_ = self.FC(x.reshape([n, -1]))
        gamma, beta = self.gamma(x_), self.beta(x_)
        for i in range(self.n_blocks):
            x = getattr(self, "UpBlock1_" + str(i + 1))(x, gamma, beta)
        return self.UpBlock2(x)


def _sn_down(in_ch: int, out_ch: int, stride: int) -> list[nn.Layer]:
    return [ReflectionPad2D(1), SNConv2D(in_ch, out_ch, 4, stride=stride), nn.LeakyReLU(0.2)]


class Discriminator(nn.Layer):
    """Encoder + CAM shared by both heads; returns ``(local_logit, global_logit, cam_logit,
    heatmap, z)``.

    The encoder (``model``, two stride-2 convs) and the CAM give z, which the generators decode.
    The local head (``Dis0_*``, ``conv0``) sees z through n_layers-4 stride-2 convs, the global
    head (``Dis1_*``, ``conv1``) branches off the local one after ``Dis0_0`` and goes two stride-2
    convs further. The CAM re-weighting takes the linear layer's raw ``weight_orig``, as the
    official ``list(self.fc.parameters())[0]`` does after spectral norm. Needs n_layers >= 6.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 7):
        super().__init__()
        self.model = nn.Sequential(*_sn_down(input_nc, ndf, 2), *_sn_down(ndf, ndf * 2, 2))

        dim = ndf * 2
        self.fc = SNLinear(dim * 2, 1, bias=False)
        self.conv1x1 = Conv2D(dim * 2, dim, 1, bias=True)
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.lamda = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

        dis0_0 = []
        for i in range(2, n_layers - 4):
            mult = 2 ** (i - 1)
            dis0_0 += _sn_down(ndf * mult, ndf * mult * 2, 2)
        mult = 2 ** (n_layers - 5)
        self.Dis0_0 = nn.Sequential(*dis0_0)
        self.Dis0_1 = nn.Sequential(*_sn_down(ndf * mult, ndf * mult * 2, 1))
        self.conv0 = SNConv2D(ndf * mult * 2, 1, 4, stride=1, bias=False)

        dis1_0 = []
        for i in range(n_layers - 4, n_layers - 2):
            mult = 2 ** (i - 1)
            dis1_0 += _sn_down(ndf * mult, ndf * mult * 2, 2)
        mult = 2 ** (n_layers - 3)
        self.Dis1_0 = nn.Sequential(*dis1_0)
        self.Dis1_1 = nn.Sequential(*_sn_down(ndf * mult, ndf * mult * 2, 1))
        self.conv1 = SNConv2D(ndf * mult * 2, 1, 4, stride=1, bias=False)
        self.pad = ReflectionPad2D(1)

    def encode(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        """``(cam_logit, heatmap, z)``: all that translation needs, without the two heads."""
        x_0 = self.model(x)
        n = x_0.shape[0]
        pooled = paddle.concat([F.adaptive_avg_pool2d(x_0, 1), F.adaptive_max_pool2d(x_0, 1)],
                               axis=1)
        cam_logit = self.fc(pooled.reshape([n, -1]))
        x = cam_reweight(paddle.concat([x_0, x_0], axis=1), self.fc.weight_orig)
        x = self.leaky_relu(self.lamda * self.conv1x1(x) + x_0)
        heatmap = x.sum(axis=1, keepdim=True)
        return cam_logit, heatmap, x

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, ...]:
        cam_logit, heatmap, z = self.encode(x)
        x0 = self.Dis0_0(z)
        x1 = self.Dis1_0(x0)
        x0 = self.Dis0_1(x0)
        x1 = self.Dis1_1(x1)
        out0 = self.conv0(self.pad(x0))
        out1 = self.conv1(self.pad(x1))
        return out0, out1, cam_logit, heatmap, z
