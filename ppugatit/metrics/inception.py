"""The Inception-v3 that FID and KID use: TensorFlow's 2015 graph as pytorch-fid ports it.

It differs from the ImageNet Inception-v3 of torchvision: 1008 classes, average pools that
ignore the zero padding (TF's behaviour) and a max pool in the last block, so features from
any other Inception do not compare with published scores. Layer names follow pytorch-fid's
(which are torchvision's), so the public weights file maps one to one: BatchNorm's
``running_mean``/``running_var`` are Paddle's ``_mean``/``_variance``; the classifier ``fc``
and BatchNorm's ``num_batches_tracked`` have no counterpart and are dropped.
"""
from __future__ import annotations

import os

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.weights import torch_pickle
from ppugatit.weights.layout import official_to_paddle
from ppugatit.errors import CheckpointError, ConfigError
from ppugatit.metrics import FID_WEIGHTS_FILE, FID_WEIGHTS_URL
from ppugatit.metrics.random_weights import seeded_state_dict

FID_CLASSES = 1008
INPUT_SIZE = 299
FEATURE_DIM = 2048
RANDOM_PREFIX = "random:"

_BN_RENAMES = {"running_mean": "_mean", "running_var": "_variance"}
_BN_RENAMES_BACK = {v: k for k, v in _BN_RENAMES.items()}


class BasicConv2d(nn.Layer):
    """conv (no bias) -> BatchNorm (eps 1e-3, as TF's graph) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride: int = 1,
                 padding=0):
        super().__init__()
        self.conv = nn.Conv2D(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, bias_attr=False)
        self.bn = nn.BatchNorm2D(out_channels, epsilon=1e-3)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_tf(x: paddle.Tensor) -> paddle.Tensor:
    """TF's 3x3 average pool: padded zeros are not counted (count_include_pad=False)."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, exclusive=True)


def _max_pool_same(x: paddle.Tensor) -> paddle.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


def _max_pool_reduce(x: paddle.Tensor) -> paddle.Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=2)


class FIDInceptionA(nn.Layer):
    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, 1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(_avg_pool_tf(x))
        return paddle.concat([self.branch1x1(x), branch5x5, branch3x3dbl, branch_pool], axis=1)


class InceptionB(nn.Layer):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return paddle.concat([self.branch3x3(x), branch3x3dbl, _max_pool_reduce(x)], axis=1)


class FIDInceptionC(nn.Layer):
    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for i in range(1, 6):
            branch7x7dbl = getattr(self, f"branch7x7dbl_{i}")(branch7x7dbl)
        branch_pool = self.branch_pool(_avg_pool_tf(x))
        return paddle.concat([self.branch1x1(x), branch7x7, branch7x7dbl, branch_pool], axis=1)


class InceptionD(nn.Layer):
    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = x
        for i in range(1, 5):
            branch7x7x3 = getattr(self, f"branch7x7x3_{i}")(branch7x7x3)
        return paddle.concat([branch3x3, branch7x7x3, _max_pool_reduce(x)], axis=1)


class FIDInceptionE_1(nn.Layer):  # noqa: N801 (pytorch-fid's name)
    """Mixed_7b; Mixed_7c is the same block with a max pool (:class:`FIDInceptionE_2`)."""

    pool = staticmethod(_avg_pool_tf)

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, 1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, 1)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        b3 = self.branch3x3_1(x)
        branch3x3 = paddle.concat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], axis=1)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = paddle.concat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)],
                                     axis=1)
        branch_pool = self.branch_pool(self.pool(x))
        return paddle.concat([self.branch1x1(x), branch3x3, branch3x3dbl, branch_pool], axis=1)


class FIDInceptionE_2(FIDInceptionE_1):  # noqa: N801
    """The TF graph's last block pools with max, not average (a quirk FID keeps)."""

    pool = staticmethod(_max_pool_same)


class FIDInceptionV3(nn.Layer):
    """Images in [-1, 1], any size -> the 2048-d pool3 features FID and KID are computed on."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = FIDInceptionA(192, pool_features=32)
        self.Mixed_5c = FIDInceptionA(256, pool_features=64)
        self.Mixed_5d = FIDInceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
        self.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
        self.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = FIDInceptionE_1(1280)
        self.Mixed_7c = FIDInceptionE_2(2048)
        self.weights_id = ""  # what the weights came from; feature caches are keyed by it
        self.eval()

    @staticmethod
    def resize(x: paddle.Tensor) -> paddle.Tensor:
        """Bilinear to 299x299 without antialiasing, as pytorch-fid (align_corners=False)."""
        return F.interpolate(x, size=[INPUT_SIZE, INPUT_SIZE], mode="bilinear",
                             align_corners=False, align_mode=0)

    def pool3(self, x: paddle.Tensor) -> paddle.Tensor:
        """``[N, 3, 299, 299]`` -> ``[N, 2048]``."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = _max_pool_reduce(x)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = _max_pool_reduce(x)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, "Mixed_" + name)(x)
        return x.mean(axis=[2, 3])

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.pool3(self.resize(x))


def torch_name(paddle_name: str) -> str:
    """Our state-dict name -> the weights file's."""
    head, _, leaf = paddle_name.rpartition(".")
    return f"{head}.{_BN_RENAMES_BACK.get(leaf, leaf)}"


def _paddle_name(name: str) -> str:
    head, _, leaf = name.rpartition(".")
    return f"{head}.{_BN_RENAMES.get(leaf, leaf)}"


def fid_weights_to_paddle(net: FIDInceptionV3, state: dict, source: str) -> dict:
    """pytorch-fid's state dict (names as in the .pth) -> ``net``'s, checked by name and shape."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: holds a {type(state).__name__}, not a state dict; "
                              f"expected {FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL}")
    fc = state.get("fc.weight")
    if fc is not None and np.shape(fc)[:1] != (FID_CLASSES,):
        raise CheckpointError(
            f"{source}: its classifier has {np.shape(fc)[0]} classes, the FID Inception's has "
            f"{FID_CLASSES}: these are other Inception weights (torchvision's?); use "
            f"{FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL}")
    own = net.state_dict()
    renamed = {}
    for name, value in state.items():
        # fc: the logits, unused by pool3 features; num_batches_tracked: Paddle keeps no counter
        if name.startswith("fc.") or name.endswith(".num_batches_tracked"):
            continue
        renamed[_paddle_name(name)] = value
    hint = f"expected {FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL}"
    unexpected = [torch_name(k) for k in renamed if k not in own]
    if unexpected:
        raise CheckpointError(f"{source}: has '{unexpected[0]}' ({len(unexpected)} tensors the "
                              f"FID Inception lacks); {hint}")
    missing = [torch_name(k) for k in own if k not in renamed]
    if missing:
        raise CheckpointError(f"{source}: lacks '{missing[0]}' ({len(missing)} tensors "
                              f"missing); {hint}")
    for k, v in own.items():
        if np.shape(renamed[k]) != tuple(v.shape):
            raise CheckpointError(f"{source}: '{torch_name(k)}' has shape "
                                  f"{list(np.shape(renamed[k]))}, the FID Inception's is "
                                  f"{list(v.shape)}; {hint}")
    return official_to_paddle(net, renamed, source)


def fid_shapes(net: FIDInceptionV3) -> dict[str, tuple]:
    """The weights file's names and shapes for ``net``'s tensors (fc excluded)."""
    return {torch_name(k): tuple(v.shape) for k, v in net.state_dict().items()}


def load_inception(weights: str) -> FIDInceptionV3:
    """The FID Inception with weights from a pytorch-fid ``.pth``, or ``random:SEED``.

    ``random:SEED`` gives seed-derived weights (:mod:`ppugatit.metrics.random_weights`) for
    tests: the scores it gives mean nothing.
    """
    net = FIDInceptionV3()
    if weights.startswith(RANDOM_PREFIX):
        try:
            seed = int(weights[len(RANDOM_PREFIX):])
        except ValueError:
            raise ConfigError(f"inception weights '{weights}': the seed after "
                              f"'{RANDOM_PREFIX}' must be an integer") from None
        state = seeded_state_dict(fid_shapes(net), seed)
        net.weights_id = f"{RANDOM_PREFIX}{seed}"
    else:
        if not os.path.isfile(weights):
            raise CheckpointError(f"{weights}: Inception weights file not found; download "
                                  f"{FID_WEIGHTS_FILE} from {FID_WEIGHTS_URL}")
        state = torch_pickle.load(weights)
        st = os.stat(weights)
        net.weights_id = f"{os.path.abspath(weights)}:{st.st_size}:{st.st_mtime_ns}"
    net.set_state_dict({k: paddle.to_tensor(v) for k, v in
                        fid_weights_to_paddle(net, state, weights).items()})
    return net
