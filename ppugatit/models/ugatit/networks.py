"""U-GAT-IT networks, layer for layer as the official PyTorch ``networks.py``.

Sub-layer names and ``nn.Sequential`` indices follow the official code, so that our state dict
keys are the official ones and an official checkpoint maps onto ours by name.
"""
from __future__ import annotations

from typing import Callable

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.attention import SelfAttention
from ppugatit.layers import (ILN, AdaILN, Conv2D, InstanceNorm, Linear, NearestUpsample2x,
                             ReflectionPad2D, SNConv2D, SNLinear)


def cam_reweight(x: paddle.Tensor, fc_weight: paddle.Tensor) -> paddle.Tensor:
    """Scale each channel of x by the CAM linear layer's weight ([C, 1] in Paddle's layout)."""
    return x * fc_weight.reshape([1, -1, 1, 1])


def cam_attention(x: paddle.Tensor, gap_fc: nn.Layer, gmp_fc: nn.Layer, gap_weight: paddle.Tensor,
                  gmp_weight: paddle.Tensor, conv1x1: nn.Layer,
                  activation: nn.Layer) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
    """The paper's CAM attention block, one for the generator, the discriminator and the
    TensorFlow generator: ``(features, cam_logit, heatmap)``.

    GAP's and GMP's logits are the auxiliary classifier's (cam_logit); the features weighted by
    each classifier's channel weights are concatenated, fused by the 1x1 convolution and the
    activation, and their channel sum is the heatmap. The generator weighs by each linear
    layer's weight, the discriminator by its raw ``weight_orig`` (spectral norm), the
    TensorFlow generator by one layer shared by GAP and GMP, ``weight + bias`` (the authors'
    ``fully_connected_with_w``).
    """
    n = x.shape[0]
    gap_logit = gap_fc(F.adaptive_avg_pool2d(x, 1).reshape([n, -1]))
    gmp_logit = gmp_fc(F.adaptive_max_pool2d(x, 1).reshape([n, -1]))
    x = paddle.concat([cam_reweight(x, gap_weight), cam_reweight(x, gmp_weight)], axis=1)
    x = activation(conv1x1(x))
    return x, paddle.concat([gap_logit, gmp_logit], axis=1), x.sum(axis=1, keepdim=True)


VARIANTS = ("pytorch", "tensorflow", "paddlegan")


class ResnetBlock(nn.Layer):
    """``affine``: instance norms with a learnt scale and shift (the TensorFlow code's)."""

    def __init__(self, dim: int, use_bias: bool = False, affine: bool = False):
        super().__init__()
        norm = (lambda: InstanceNorm(num_features=dim)) if affine else InstanceNorm
        self.conv_block = nn.Sequential(
            ReflectionPad2D(1), Conv2D(dim, dim, 3, bias=use_bias), norm(), nn.ReLU(),
            ReflectionPad2D(1), Conv2D(dim, dim, 3, bias=use_bias), norm())

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return x + self.conv_block(x)


class ResnetAdaILNBlock(nn.Layer):
    """Residual block whose normalisations take gamma, beta from the MLP; ``norm`` makes the
    AdaILN (U-GAT-IT's, its TensorFlow form, or NICE-GAN's softmax-weighted one: the block is
    the same)."""

    def __init__(self, dim: int, use_bias: bool = False,
                 norm: Callable[[int], nn.Layer] = AdaILN):
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

    ``variant="tensorflow"`` is the generator of the authors' TensorFlow code (taki0112/UGATIT),
    whose released selfie2anime checkpoints are the only public U-GAT-IT models: biases on every
    convolution and linear layer; affine instance norms in the encoder; the stride-2
    convolutions reflect-padded by 1 before and 0 after; one CAM layer with a bias shared by
    GAP and GMP; an MLP ``ngf * n_blocks`` wide; biased variances in AdaLIN and LIN; and with
    ``smoothing``, AdaLIN's rho lowered by 0.1. Its full MLP flattens NHWC where ours flattens
    NCHW: ``ppugatit/weights/tensorflow.py`` permutes that layer's rows once, when it reads the
    checkpoint. Layer names are the PyTorch variant's where the layer is the same.

    ``variant="paddlegan"`` is PaddleGAN's ``ResnetUGATITGenerator``: the PyTorch network whose
    encoder and residual instance norms carry a scale and shift, frozen (not trained) as there.
    """

    def __init__(self, input_nc: int, output_nc: int, ngf: int = 64, n_blocks: int = 6,
                 img_size: int = 256, light: bool = False, self_attention: bool = False,
                 variant: str = "pytorch", smoothing: bool = False):
        super().__init__()
        assert n_blocks >= 0 and variant in VARIANTS
        self.n_blocks = n_blocks
        self.light = light
        tf = variant == "tensorflow"
        self.tensorflow = tf
        affine = variant != "pytorch"
        norm = (lambda c: InstanceNorm(num_features=c)) if affine else (lambda c: InstanceNorm())
        down_pad = (1, 0, 1, 0) if tf else 1

        down = [ReflectionPad2D(3), Conv2D(input_nc, ngf, 7, bias=tf), norm(ngf), nn.ReLU()]
        n_downsampling = 2
        for i in range(n_downsampling):
            mult = 2 ** i
            down += [ReflectionPad2D(down_pad),
                     Conv2D(ngf * mult, ngf * mult * 2, 3, stride=2, bias=tf),
                     norm(ngf * mult * 2), nn.ReLU()]
        mult = 2 ** n_downsampling
        down += [ResnetBlock(ngf * mult, use_bias=tf, affine=affine) for _ in range(n_blocks)]
        if variant == "paddlegan":
            for layer in down:
                for p in layer.parameters():
                    if p.ndim == 1:  # the instance norms' scale and shift
                        p.stop_gradient = True

        dim = ngf * mult
        self.attn = SelfAttention(dim) if self_attention else None
        self.gap_fc = Linear(dim, 1, bias=tf)
        self.gmp_fc = None if tf else Linear(dim, 1, bias=False)
        self.conv1x1 = Conv2D(dim * 2, dim, 1, bias=True)
        self.relu = nn.ReLU()

        width = ngf * n_blocks if tf else dim
        fc_in = dim if light else (img_size // mult) * (img_size // mult) * dim
        self.FC = nn.Sequential(Linear(fc_in, width, bias=tf), nn.ReLU(),
                                Linear(width, width, bias=tf), nn.ReLU())
        self.gamma = Linear(width, width, bias=tf)
        self.beta = Linear(width, width, bias=tf)

        if tf:
            def ada_norm(c: int) -> nn.Layer:
                return AdaILN(c, unbiased=False, smoothing=0.1 if smoothing else 0.0,
                              rho_init=1.0)
        else:
            ada_norm = AdaILN
        for i in range(n_blocks):
            setattr(self, "UpBlock1_" + str(i + 1),
                    ResnetAdaILNBlock(dim, use_bias=tf, norm=ada_norm))

        up = []
        for i in range(n_downsampling):
            mult = 2 ** (n_downsampling - i)
            up += [NearestUpsample2x(), ReflectionPad2D(1),
                   Conv2D(ngf * mult, ngf * mult // 2, 3, bias=tf),
                   ILN(ngf * mult // 2, unbiased=not tf), nn.ReLU()]
        up += [ReflectionPad2D(3), Conv2D(ngf, output_nc, 7, bias=tf), nn.Tanh()]

        self.DownBlock = nn.Sequential(*down)
        self.UpBlock2 = nn.Sequential(*up)

    def cam(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        if self.tensorflow:
            shared = self.gap_fc.weight + self.gap_fc.bias
            return cam_attention(x, self.gap_fc, self.gap_fc, shared, shared, self.conv1x1,
                                 self.relu)
        return cam_attention(x, self.gap_fc, self.gmp_fc, self.gap_fc.weight,
                             self.gmp_fc.weight, self.conv1x1, self.relu)

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor, paddle.Tensor]:
        x = self.DownBlock(x)
        if self.attn is not None:
            x, _ = self.attn(x)
        n = x.shape[0]

        x, cam_logit, heatmap = self.cam(x)

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

    ``n_layers`` 7 is the official global discriminator (needs >= 96 px inputs), 5 the local one.
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

        x, cam_logit, heatmap = cam_attention(x, self.gap_fc, self.gmp_fc,
                                              self.gap_fc.weight_orig, self.gmp_fc.weight_orig,
                                              self.conv1x1, self.leaky_relu)

        return self.conv(self.pad(x)), cam_logit, heatmap
