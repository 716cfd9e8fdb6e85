"""Can Winograd convolution buy the 2x exported-inference speed that direct convolution cannot?

The exported 256 px generator spends most of its time in 3x3 convolutions that oneDNN already
runs near this CPU's peak, so only fewer multiplications could go faster. This script writes
Winograd F(4x4, 3x3) in Paddle operations (unfold, the input transform, 36 batched matrix
products, the output transform), exports it and a plain convolution through Paddle Inference
with oneDNN, and prints both times and both errors against a float64 convolution. Its numbers
are in docs/benchmarks.md.

    python tools/bench_winograd.py --channels 256 --size 64
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppugatit.benchmark import median_time
from ppugatit.device import setup_device
from ppugatit.kernels.cpu import onednn_flag


def winograd_matrices(points: list[float], m: int = 4, r: int = 3):
    """``(AT, G, BT)`` of Winograd F(m, r) on the given interpolation points (plus infinity).

    AT and G follow from the points; BT is solved from the bilinear identity
    sum_j AT[i, j] G[j, k] BT[j, l] = [l == i + k], which holds exactly for valid points."""
    n = m + r - 1
    at, g = np.zeros((m, n)), np.zeros((n, r))
    for j, p in enumerate(points):
        f = np.prod([p - q for q in points if q != p])
        at[:, j] = [p ** i for i in range(m)]
        g[j] = [p ** k / f for k in range(r)]
    at[m - 1, n - 1] = g[n - 1, r - 1] = 1
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for col in range(n):
                row = np.zeros((n, n))
                row[:, col] = at[i] * g[:, k]
                rows.append(row.ravel())
                rhs.append(float(col == i + k))
    bt = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0].reshape(n, n)
    return at, g, bt


class WinogradConv(nn.Layer):
    """A valid 3x3 convolution as Winograd F(4x4, 3x3); input sides must be 4k + 2."""

    def __init__(self, weight: np.ndarray, points: list[float]):
        super().__init__()
        at, g, bt = winograd_matrices(points)
        k, c = weight.shape[:2]
        u = (np.kron(g, g) @ weight.astype(np.float64).reshape(k * c, 9).T).reshape(36, k, c)

        def const(value: np.ndarray) -> paddle.Tensor:
            return self.create_parameter(list(value.shape), default_initializer=(
                nn.initializer.Assign(value.astype("float32"))))
        self.u, self.bt2, self.at2 = const(u), const(np.kron(bt, bt)), const(np.kron(at, at))
        self.k, self.c = k, c

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        n, _, hp, wp = x.shape
        th, tw = (hp - 2) // 4, (wp - 2) // 4
        tiles = F.unfold(x, kernel_sizes=6, strides=4)               # [N, C*36, T]
        tiles = tiles.reshape([n, self.c, 36, th * tw]).transpose([2, 1, 0, 3]).reshape([36, -1])
        v = paddle.matmul(self.bt2, tiles).reshape([36, self.c, n * th * tw])
        m = paddle.matmul(self.u, v).reshape([36, -1])               # [36, K*N*T]
        y = paddle.matmul(self.at2, m).reshape([4, 4, self.k, n, th, tw])
        return y.transpose([3, 2, 4, 0, 5, 1]).reshape([n, self.k, th * 4, tw * 4])


class DirectConv(nn.Layer):
    def __init__(self, weight: np.ndarray):
        super().__init__()
        self.weight = self.create_parameter(list(weight.shape), default_initializer=(
            nn.initializer.Assign(weight)))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return F.conv2d(x, self.weight)


def exported_time(layer: nn.Layer, x: np.ndarray, repeat: int, folder: str):
    """Median seconds and output of ``layer`` exported and run by Paddle Inference + oneDNN."""
    from paddle import inference

    layer.eval()
    spec = paddle.static.InputSpec([None, *x.shape[1:]], "float32")
    prefix = os.path.join(folder, "model")
    paddle.jit.save(paddle.jit.to_static(layer, input_spec=[spec], full_graph=True), prefix)
    config = inference.Config(prefix + ".json", prefix + ".pdiparams")
    config.disable_gpu()
    config.enable_mkldnn()
    config.disable_glog_info()
    config.set_cpu_math_library_num_threads(os.cpu_count() or 1)
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(x.shape))
    handle.copy_from_cpu(x)
    seconds = median_time(predictor.run, warmup=3, repeat=repeat, device="cpu")
    return seconds, predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--size", type=int, default=64, help="output side, a multiple of 4")
    parser.add_argument("--repeat", type=int, default=12)
    args = parser.parse_args(argv)
    setup_device("cpu")
    from numpy.lib.stride_tricks import sliding_window_view

    c, size = args.channels, args.size
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype("float32")
    x = rng.standard_normal((1, c, size + 2, size + 2)).astype("float32")
    ref = np.einsum("nchwij,kcij->nkhw", sliding_window_view(x.astype(np.float64), (3, 3),
                                                             axis=(2, 3)), w.astype(np.float64))
    results = {}
    # the predictor's config decides, not the global flag
    with onednn_flag(False), tempfile.TemporaryDirectory() as tmp:
        for name, layer in (("direct", DirectConv(w)),
                            ("winograd (0, +-1, +-2)", WinogradConv(w, [0, 1, -1, 2, -2])),
                            ("winograd (0, +-1, +-1/2)", WinogradConv(w, [0, 1, -1, .5, -.5]))):
            folder = os.path.join(tmp, str(len(results)))
            seconds, out = exported_time(layer, x, args.repeat, folder)
            results[name] = {"s": seconds, "max_error": float(np.abs(out - ref).max())}
    base = results["direct"]["s"]
    flops = 2 * c * c * 9 * size * size
    print(f"3x3 conv, {c} -> {c} channels, {size} x {size}, batch 1; exported, oneDNN")
    for name, r in results.items():
        print(f"{name:26s} {r['s'] * 1e3:8.2f} ms  {r['s'] / base:5.2f}x direct  "
              f"max error vs float64 {r['max_error']:.1e}"
              + (f"  ({flops / r['s'] / 1e9:.0f} GFLOP/s)" if name == "direct" else ""))
    return results


if __name__ == "__main__":
    main()
