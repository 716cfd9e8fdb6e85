"""U-GAT-IT networks, layer for layer as the official PyTorch ``networks.py``.

Sub-layer names and ``nn.Sequential`` indices follow the official code, so that our state dict
keys are the official ones and an official checkpoint maps onto ours by name.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.attention import SelfAttention
from ppugatit.layers import (ILN, AdaILN, Conv2D, InstanceNorm, Linear, NearestUpsample2x,
                             ReflectionPad2D, SNConv2D, SNLinear)


def cam_reweight(x: paddle.Tensor, fc_weight: paddle.Tensor) -> paddle.Tensor:
    """Scale each channel of x by the CAM linear layer's weight ([C, 1] in Paddle's layout)."""
    return x * fc_weight.reshape([1, -1, 1, 1])


class ResnetBlock(nn.Layer):
    def __init__(self, dim: int, use_bias: bool = False):
        super().__init__()
        self.conv_block = nn.Sequential(
            ReflectionPad2D(1), Conv2D(dim, dim, 3, bias=use_bias), InstanceNorm(), nn.ReLU(),
            ReflectionPad2D(1), Conv2D(dim, dim, 3, bias=use_bias), InstanceNorm())

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x + self.conv_block(x)


class ResnetAdaILNBlock(nn.Layer):
    """Residual block whose normalisations take gamma, beta from the MLP; ``norm`` is the
    AdaILN class (U-GAT-IT's, or NICE-GAN's softmax-weighted one: the block is the same)."""

    def __init__(self, dim: int, use_bias: bool = False, norm: type[nn.Layer] = AdaILN):
        super().__init__()
        self.pad1 = ReflectionPad2D(1)
        self.conv1 = Conv2D(dim, dim, 3, bias=use_bias)
        self.norm1 = norm(dim)
        self.relu1 = nn.ReLU()
        self.pad2 = ReflectionPad2D(1)
        self.conv2 = Conv2D(dim, dim, 3, bias=use_bias)
        self.norm2 = norm(dim)

    def forward(self, x: paddle.Tensor, gamma: paddle.Tensor, beta: paddle.Tensor) -> paddle.Tensor:
        out = self.relu1(self.norm1(self.conv1(self.pad1(x)), gamma, beta))
        out = self.norm2(self.conv2(self.pad2(out)), gamma, beta)
        return out + x


class ResnetGenerator(nn.Layer):
    """Encoder, CAM attention, gamma/beta MLP, AdaILN residual decoder.

    ``forward`` returns ``(image, cam_logit, heatmap)``. ``light`` pools the attended feature map
    before the MLP instead of flattening it (the full MLP's first layer has
    (img_size/4)^2 * 4*ngf inputs: about 268M weights at 256 px with ngf 64).
    ``self_attention`` adds SAGAN's self-attention at the bottleneck, before CAM (not in the
    official code; off, the network is exactly the official one).
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_blocks: int = 6,
                 img_size: int = 256, light: bool = False, self_attention: bool = False):
        super().__init__()
        assert n_blocks >= 0
        self.n_blocks = n_blocks
        self.light = light

        down = [ReflectionPad2D(3), Conv2D(input_nc, ngf, 7, bias=False), InstanceNorm(), nn.ReLU()]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            down += [ReflectionPad2D(1),
                     Conv2D(ngf * mult, ngf * mult * 2, 3, stride=2, bias=False),
                     InstanceNorm(), nn.ReLU()]
        mult = 2 ** n_downsampling
        down += [ResnetBlock(ngf * mult) for _ in range(n_blocks)]

        dim = ngf * mult
        self.attn = SelfAttention(dim) if self_attention else None
        self.gap_fc = Linear(dim, 1, bias=False)
        self.gmp_fc = Linear(dim, 1, bias=False)
        self.conv1x1 = Conv2D(dim * 2, dim, 1, bias=True)
        self.relu = nn.ReLU()

        fc_in = dim if light else (img_size // mult) * (img_size // mult) * dim
        self.FC = nn.Sequential(Linear(fc_in, dim, bias=False), nn.ReLU(),
                                Linear(dim, dim, bias=False), nn.ReLU())
        self.gamma = Linear(dim, dim, bias=False)
        self.beta = Linear(dim, dim, bias=False)

        for i in range(n_blocks):
            setattr(self, "UpBlock1_" + str(i + 1), ResnetAdaILNBlock(dim))

        up = []
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            up += [NearestUpsample2x(), ReflectionPad2D(1),
                   Conv2D(ngf * mult, ngf * mult // 2, 3, bias=False), ILN(ngf * mult // 2),
                   nn.ReLU()]
        up += [ReflectionPad2D(3), Conv2D(ngf, output_nc, 7, bias=False), nn.Tanh()]

        self.DownBlock = nn.Sequential(*down)
        self.UpBlock2 = nn.Sequential(*up)

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        x = self.DownBlock(x)
        if self.attn is not None:
            x, _ = self.attn(x)
        n = x.shape[0]

        gap_logit = self.gap_fc(F.adaptive_avg_pool2d(x, 1).reshape([n, -1]))
        gmp_logit = self.gmp_fc(F.adaptive_max_pool2d(x, 1).reshape([n, -1]))
        cam_logit = paddle.concat([gap_logit, gmp_logit], axis=1)
        x = paddle.concat([cam_reweight(x, self.gap_fc.weight),
                           cam_reweight(x, self.gmp_fc.weight)], axis=1)
        x = self.relu(self.conv1x1(x))
        heatmap = x.sum(axis=1, keepdim=True)

        if self.light:
            x_ = self.FC(F.adaptive_avg_pool2d(x, 1).reshape([n, -1]))
        else:
            x_ = self.FC(x.reshape([n, -1]))
        gamma, beta = self.gamma(x_), self.beta(x_)

        for i in range(self.n_blocks):
            x = getattr(self, "UpBlock1_" + str(i + 1))(x, gamma, beta)
        return self.UpBlock2(x), cam_logit, heatmap


class Discriminator(nn.Layer):
    """PatchGAN with spectral norm and CAM; returns ``(logit, cam_logit, heatmap)``.

    ``n_layers`` 7 is the official global discriminator (needs >= 128 px inputs), 5 the local one.
    The CAM re-weighting takes the linear layer's raw ``weight_orig``, as the official code's
    ``list(self.gap_fc.parameters())[0]`` does after spectral norm. ``self_attention`` adds
    SAGAN's self-attention after the encoder, before CAM (not in the official code).
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 5,
                 self_attention: bool = False):
        super().__init__()
        model = [ReflectionPad2D(1), SNConv2D(input_nc, ndf, 4, stride=2), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers - 2):
            mult = 2 ** (i - 1)
            model += [ReflectionPad2D(1), SNConv2D(ndf * mult, ndf * mult * 2, 4, stride=2),
                      nn.LeakyReLU(0.2)]
        mult = 2 ** (n_layers - 2 - 1)
        model += [ReflectionPad2D(1), SNConv2D(ndf * mult, ndf * mult * 2, 4, stride=1),
                  nn.LeakyReLU(0.2)]

        dim = ndf * 2 ** (n_layers - 2)
        self.attn = SelfAttention(dim) if self_attention else None
        self.gap_fc = SNLinear(dim, 1, bias=False)
        self.gmp_fc = SNLinear(dim, 1, bias=False)
        self.conv1x1 = Conv2D(dim * 2, dim, 1, bias=True)
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.pad = ReflectionPad2D(1)
        self.conv = SNConv2D(dim, 1, 4, stride=1, bias=False)
        self.model = nn.Sequential(*model)

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        x = self.model(x)
        if self.attn is not None:
            x, _ = self.attn(x)
        n = x.shape[0]

        gap_logit = self.gap_fc(F.adaptive_avg_pool2d(x, 1).reshape([n, -1]))
        gmp_logit = self.gmp_fc(F.adaptive_max_pool2d(x, 1).reshape([n, -1]))
        cam_logit = paddle.concat([gap_logit, gmp_logit], axis=1)
        x = paddle.concat([cam_reweight(x, self.gap_fc.weight_orig),
                           cam_reweight(x, self.gmp_fc.weight_orig)], axis=1)
        x = self.leaky_relu(self.conv1x1(x))
        heatmap = x.sum(axis=1, keepdim=True)

        return self.conv(self.pad(x)), cam_logit, heatmap
