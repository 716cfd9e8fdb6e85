"""How a picture becomes a network input and an output becomes pixels, per weights' authors.

A model gives the pixels its authors' code gives only when fed and read as that code does:
the official PyTorch code (and ours) resizes with PIL bilinear and rounds; the authors'
TensorFlow ``load_test_data`` resizes with ``cv2.resize`` (linear) and its ``save_images``
truncates to uint8; PaddleGAN's test pipeline resizes with cv2 bicubic and its ``tensor2img``
rounds. ``model.variant`` picks the pipeline; ``--pipeline`` may pick another.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from ppugatit.data.dataset import eval_transform
from ppugatit.errors import UserError
from ppugatit.visual import to_uint8


@dataclass(frozen=True)
class Pipeline:
    name: str
    prepare: Callable[[np.ndarray, int], np.ndarray]  # uint8 RGB HWC -> float32 CHW in [-1, 1]
    to_uint8: Callable[[np.ndarray], np.ndarray]      # [-1, 1] NCHW -> uint8 RGB NHWC


def _tensorflow_prepare(img: np.ndarray, size: int) -> np.ndarray:
    x = cv2.resize(img, dsize=(size, size)) / 127.5 - 1
    return x.astype(np.float32).transpose(2, 0, 1)


def _tensorflow_to_uint8(y: np.ndarray) -> np.ndarray:
    x = (np.asarray(y, dtype=np.float32) + 1.0) / 2 * 255.0
    return np.clip(x, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def _paddlegan_prepare(img: np.ndarray, size: int) -> np.ndarray:
    x = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    return ((x - 127.5) / 127.5).transpose(2, 0, 1)


def _paddlegan_to_uint8(y: np.ndarray) -> np.ndarray:
    x = (np.clip(np.asarray(y, dtype=np.float32), -1.0, 1.0) + 1.0) / 2.0 * 255.0
    return x.round().astype(np.uint8).transpose(0, 2, 3, 1)


PIPELINES = {
    "ours": Pipeline("ours", eval_transform, to_uint8),
    "tensorflow": Pipeline("tensorflow", _tensorflow_prepare, _tensorflow_to_uint8),
    "paddlegan": Pipeline("paddlegan", _paddlegan_prepare, _paddlegan_to_uint8),
}
BY_VARIANT = {"pytorch": "ours", "tensorflow": "tensorflow", "paddlegan": "paddlegan"}


def pipeline_for(cfg, name: str | None = None) -> Pipeline:
    """``name`` (``auto`` or None: the one of the model's variant)."""
    if name in (None, "auto"):
        name = BY_VARIANT.get(cfg.model.get("variant", "pytorch"), "ours")
    if name not in PIPELINES:
        raise UserError(f"--pipeline must be auto or one of {', '.join(PIPELINES)}, got "
                        f"'{name}'")
    return PIPELINES[name]
