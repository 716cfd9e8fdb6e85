"""Pictures: de-normalisation, CAM heatmaps and the official comparison grid."""
from __future__ import annotations

import cv2
import numpy as np
import paddle


def to_uint8(images: paddle.Tensor | np.ndarray) -> np.ndarray:
    """[-1, 1] NCHW -> uint8 NHWC RGB."""
    x = images.numpy() if isinstance(images, paddle.Tensor) else np.asarray(images)
    x = np.clip((x.astype(np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)
    return x.transpose(0, 2, 3, 1)


def heatmap_to_rgb(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The official ``cam()``: min-max scale, resize to (h, w), JET colour map; RGB uint8."""
    x = np.asarray(heatmap, dtype=np.float32).squeeze()
    x = x - x.min()
    peak = x.max()
    x = x / peak if peak > 0 else x
    img = cv2.resize(np.uint8(255 * x), (size[1], size[0]))
    return cv2.applyColorMap(img, cv2.COLORMAP_JET)[:, :, ::-1].copy()


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """An RGB uint8 image with its CAM heatmap blended on top."""
    cam = heatmap_to_rgb(heatmap, image.shape[:2])
    return cv2.addWeighted(image, 1.0 - alpha, cam, alpha, 0)


def panel_grid(columns: list[list[np.ndarray]]) -> np.ndarray:
    """Each inner list is stacked vertically; the stacks are placed side by side."""
    return np.concatenate([np.concatenate(col, axis=0) for col in columns], axis=1)


def seven_panels(real: np.ndarray, identity: tuple, translation: tuple, cycle: tuple) -> list:
    """One column of the official grid: real, then (heatmap, image) for A2A, A2B, A2B2A.

    Each of identity, translation, cycle is ``(images uint8 NHWC, heatmaps N1hw)`` for one
    sample; ``real`` is that sample's uint8 HWC image.
    """
    size = real.shape[:2]
    col = [real]
    for img, heat in (identity, translation, cycle):
        col += [heatmap_to_rgb(heat, size), img]
    return col
