"""Scores of translations against the true pictures (tools/eval.py, the evaluator).

L1 is the mean absolute difference on 0..255 (lower is better). SSIM is Wang et al.'s
structural similarity (2004) with their constants (K1 0.01, K2 0.03, L 255) and an 11 x 11
Gaussian window of sigma 1.5, computed per RGB channel on the whole picture and averaged
(higher is better, 1 for equal pictures): L1 rewards the right colours in the right places,
SSIM the right local structure. Both are averaged over the test pairs. Neither rewards
drawing a texture whose phase cannot be known, so :func:`detail` scores how much
high-frequency content the translations have against the true pictures.
"""
from __future__ import annotations

import cv2
import numpy as np


def l1(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean |fake - real| over uint8 NHWC pictures, on 0..255."""
    return float(np.mean(np.abs(fake.astype(np.float64) - real.astype(np.float64))))


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)


def ssim(fake: np.ndarray, real: np.ndarray) -> float:
    """Mean SSIM of uint8 NHWC pictures (per channel, then averaged)."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for x, y in zip(fake.astype(np.float64), real.astype(np.float64)):
        mx, my = _blur(x), _blur(y)
        vx, vy = _blur(x * x) - mx * mx, _blur(y * y) - my * my
        cov = _blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        values.append(s.mean())
    return float(np.mean(values))


def high_frequency(images: np.ndarray) -> float:
    """Mean |x - blur(x)| on 0..255 (Gaussian, sigma 1): edges, texture and noise."""
    x = images.astype(np.float32)
    return float(np.mean([np.abs(i - cv2.GaussianBlur(i, (7, 7), 1.0,
                                                       borderType=cv2.BORDER_REFLECT)).mean()
                          for i in x]))


def detail(fake: np.ndarray, real: np.ndarray) -> float:
    """High-frequency content of the translations relative to the true pictures': 1 as
    detailed, below 1 blurred, above 1 noisier. The textures' phase cannot be predicted
    (ppugatit.data.quality_task), so L1 and SSIM do not reward drawing them; this does, and
    it is what the adversarial loss adds over the cycle and identity losses."""
    return high_frequency(fake) / max(high_frequency(real), 1e-6)


def scores(fake: np.ndarray, real: np.ndarray) -> dict[str, float]:
    if fake.shape != real.shape:
        raise ValueError(f"translations {fake.shape} and true pictures {real.shape} differ in "
                         f"shape")
    return {"l1": l1(fake, real), "ssim": ssim(fake, real), "detail": detail(fake, real)}
