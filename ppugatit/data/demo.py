"""The built-in demo data set: two synthetic domains that differ in shape, palette and texture.

Domain A: warm discs on light, horizontally striped backgrounds. Domain B: cool squares on dark
backgrounds with a checker texture. Same layout statistics (position, size) in both, so a
translator has to change shape, colour and texture while keeping where and how big the object
is: a small cousin of selfie2anime that trains in minutes on a CPU. Generated
deterministically, so every machine gets the same pictures.
"""
from __future__ import annotations

import logging
import os
import re

import cv2
import numpy as np

from ppugatit.data.image_io import list_images, write_image
from ppugatit.errors import DataError

logger = logging.getLogger("ppugatit")

DEMO_SIZE = 64
COUNTS = {"trainA": 160, "trainB": 160, "testA": 16, "testB": 16}
SHIPPED_ROOT = "data/demo"  # where configs/demo*.yaml put it
_DEMO_FILE = re.compile(r"(train|test)([AB])/\2_\d{4}\.png")


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = np.uint8([[[int(h) % 180, int(s), int(v)]]])
    r, g, b = cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0]
    return int(r), int(g), int(b)


def make_image(domain: str, rng: np.random.Generator, size: int = DEMO_SIZE) -> np.ndarray:
    """One RGB uint8 picture of ``domain`` ('A' or 'B')."""
    cx, cy = rng.uniform(0.3, 0.7, size=2) * size
    radius = rng.uniform(0.15, 0.3) * size
    yy, xx = np.mgrid[0:size, 0:size]
    if domain == "A":
        period = rng.uniform(6, 10) * size / 64
        light = 200 + 40 * (np.sin(2 * np.pi * yy / period) > 0)
        img = np.stack([light, light - 10, light - 30], axis=-1).astype(np.float32)
        colour = _hsv(rng.uniform(0, 25), rng.uniform(170, 255), rng.uniform(190, 255))
        img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
        cv2.circle(img, (int(cx), int(cy)), int(radius), colour, -1, lineType=cv2.LINE_AA)
    else:
        cell = max(2, int(rng.uniform(4, 8) * size / 64))
        checker = ((yy // cell + xx // cell) % 2).astype(np.float32)
        dark = 30 + 35 * checker
        img = np.stack([dark - 10, dark, dark + 25], axis=-1)
        img = np.ascontiguousarray(np.clip(img, 0, 255).astype(np.uint8))
        colour = _hsv(rng.uniform(90, 120), rng.uniform(150, 255), rng.uniform(170, 255))
        half = radius * 0.9
        cv2.rectangle(img, (int(cx - half), int(cy - half)), (int(cx + half), int(cy + half)),
                      colour, -1)
    noise = rng.normal(0, 4, size=img.shape)
    return np.clip(img.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def ensure_demo_dataset(root: str, size: int = DEMO_SIZE) -> str:
    """Create the demo set under ``root`` unless each of its folders is already complete.

    Only into a folder holding no other images: a dataset.root that names real data is never
    mixed with synthetic pictures. Anywhere but :data:`SHIPPED_ROOT` it says so as a warning
    (a mistyped dataset.root would otherwise train on shapes without a word)."""
    if all(len(list_images(os.path.join(root, f))) >= n for f, n in COUNTS.items()
           if os.path.isdir(os.path.join(root, f))) and all(
            os.path.isdir(os.path.join(root, f)) for f in COUNTS):
        return root
    others = [f for f in list_images(root) if not _DEMO_FILE.fullmatch(
        os.path.relpath(f, root).replace(os.sep, "/"))] if os.path.isdir(root) else []
    if others:
        raise DataError(f"dataset.demo: '{root}' holds {len(others)} image(s) of its own (e.g. "
                        f"{others[0]}) but not the demo set; set dataset.demo=false to train on "
                        f"them, or choose an empty dataset.root for the demo")
    if os.path.normpath(root) == os.path.normpath(SHIPPED_ROOT):
        logger.info("generating the built-in demo data set in %s", root)
    else:
        logger.warning("dataset.demo: generating the built-in synthetic demo data set in %s "
                       "(%d images); if dataset.root was meant to name your own data, fix it "
                       "and set dataset.demo=false", os.path.abspath(root), sum(COUNTS.values()))
    for seed, (folder, count) in enumerate(sorted(COUNTS.items())):
        rng = np.random.default_rng([2020, seed])
        for i in range(count):
            img = make_image(folder[-1], rng, size)
            write_image(os.path.join(root, folder, f"{folder[-1]}_{i:04d}.png"), img)
    return root
