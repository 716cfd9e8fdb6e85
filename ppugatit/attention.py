"""SAGAN's self-attention block (Zhang et al., 2019), as the reference PyTorch code computes it.

Kept apart from the SAGAN networks so that any generator or discriminator can use it.
"""
from __future__ import annotations

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.layers import Conv2D


class SelfAttention(nn.Layer):
    """Every position attends to every other: ``out = gamma * attention(x) + x``.

    Query and key are 1x1 convolutions to C/8 channels, the value one keeps C; the attention
    map is the softmax over positions of query . key. gamma starts at 0, so a fresh block is the
    identity and the network learns how much non-local evidence to mix in. ``forward`` returns
    ``(out, attention)``, attention being ``[N, HW, HW]``: row i says where position i looks.
    """

    def __init__(self, in_dim: int):
        super().__init__()
        if in_dim < 8:
            raise ValueError(f"SelfAttention needs at least 8 channels (C/8 >= 1), got {in_dim}")
        self.query_conv = Conv2D(in_dim, in_dim // 8, 1)
        self.key_conv = Conv2D(in_dim, in_dim // 8, 1)
        self.value_conv = Conv2D(in_dim, in_dim, 1)
        self.gamma = self.create_parameter([1], default_initializer=nn.initializer.Constant(0.0))

    def forward(self, x: paddle.Tensor) -> tuple[paddle.Tensor, paddle.Tensor]:
        query = self.query_conv(x).flatten(2)   # [N, C/8, HW]
        key = self.key_conv(x).flatten(2)
        energy = paddle.matmul(query, key, transpose_x=True)
        if energy.dtype != paddle.float32:  # mixed precision: softmax in float32
            energy = energy.astype("float32")
        attention = F.softmax(energy, axis=-1)
        value = self.value_conv(x).flatten(2)   # [N, C, HW]
        # value @ attention^T without materialising the transposed [N, HW, HW] map
        out = paddle.matmul(value, attention, transpose_y=True).reshape(x.shape)
        return self.gamma * out + x, attention
