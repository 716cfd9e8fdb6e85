"""Seed-derived stand-ins for the FID Inception weights, in the PyTorch file's names and layout.

The real weights (95 MB) cannot ship with the tests, so the alignment fixture is made from these
on both sides: PyTorch's pytorch-fid loads them, we load them through the same converter as the
real file. Each tensor depends only on the seed and its own name, so any subset of names gives
the same arrays. Numpy only, so the PyTorch-side fixture script can use it too.
"""
from __future__ import annotations

import zlib

import numpy as np


def _tensor(name: str, shape: tuple, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.array(int(rng.integers(0, 10_000)), dtype=np.int64)
    if leaf == "running_mean":
        return rng.normal(0.0, 0.1, shape).astype(np.float32)
    if leaf == "running_var":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if len(shape) == 1:
        if ".bn." in name and leaf == "weight":
            return rng.uniform(0.8, 1.2, shape).astype(np.float32)
        return rng.normal(0.0, 0.1, shape).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    # He-normal keeps the activations' scale through ~50 conv-BN-ReLU layers
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype(np.float32)


def seeded_state_dict(shapes: dict[str, tuple], seed: int) -> dict[str, np.ndarray]:
    """``{name: array}`` for every name in ``shapes`` (PyTorch names, PyTorch layout)."""
    return {name: _tensor(name, tuple(shape), seed) for name, shape in shapes.items()}
