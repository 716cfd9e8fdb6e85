"""A translation task whose right answer is known: the quality benchmark's data set.

A *scene* is a list of parameters: two objects (centre, size, aspect, orientation, colour)
and a lighting ramp. Domain A draws it as warm ellipses on light horizontal stripes, domain B
as cool rotated rectangles (the same area, aspect and orientation) on a dark checker: shape,
texture and palette change together, position, size and orientation carry over, so A->B must
change geometry and not only colour, as selfie2anime does. The training sets draw different
scenes in each domain (unpaired); the test set draws the *same* scenes in both, so a
translation can be scored against the true picture. The textures' phase and a little noise
are drawn anew for every picture, also within a test pair: they cannot be predicted from the
input, and cost every translator alike. Harder than the demo set (two objects that may
overlap, orientations, a lighting ramp on both domains). Deterministic: every machine gets the
same pixels.
"""
from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from ppugatit.data.image_io import list_images, read_image, write_image

logger = logging.getLogger("ppugatit")

COUNTS = {"trainA": 200, "trainB": 200, "test": 24}
NOISE = 3.0  # per-pixel Gaussian noise (0..255), drawn independently for every picture


def make_scene(rng: np.random.Generator) -> dict:
    """The parameters both domains draw: everything a translation must keep."""
    objects = []
    for scale in (rng.uniform(0.16, 0.26), rng.uniform(0.08, 0.14)):
        objects.append({"centre": rng.uniform(0.22, 0.78, size=2), "radius": scale,
                        "aspect": rng.uniform(0.55, 1.0), "angle": rng.uniform(0, 180),
                        "hue": rng.uniform(0, 1), "value": rng.uniform(0.75, 1.0)})
    return {"objects": objects, "light": rng.uniform(-0.15, 0.15, size=2)}


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = np.uint8([[[int(h) % 180, int(s), int(v)]]])
    return tuple(int(c) for c in cv2.cvtColor(px, cv2.COLOR_HSV2RGB)[0, 0])


def _background(domain: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """The domain's texture at a random phase: no phase is the right one, so the texture
    is part of a picture that a translation cannot predict (the same for every translator),
    and the mean picture of a domain is a flat colour, not its texture."""
    yy, xx = np.mgrid[0:size, 0:size]
    if domain == "A":
        period = max(4, size // 8)
        yy = yy + rng.integers(0, period)
        light = 205 + 35 * (np.sin(2 * np.pi * (yy + 0.5) / period) > 0)
        return np.stack([light, light - 12, light - 35], axis=-1).astype(np.float32)
    cell = max(2, size // 10)
    yy, xx = yy + rng.integers(0, 2 * cell), xx + rng.integers(0, 2 * cell)
    dark = 35 + 35 * ((yy // cell + xx // cell) % 2)
    return np.stack([dark - 12, dark, dark + 28], axis=-1).astype(np.float32)


def render(scene: dict, domain: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 RGB picture of ``scene`` in ``domain`` ('A' or 'B'); ``rng`` draws the
    texture's phase and the noise."""
    img = np.ascontiguousarray(_background(domain, size, rng).clip(0, 255).astype(np.uint8))
    for obj in scene["objects"]:
        cx, cy = obj["centre"] * size
        r = obj["radius"] * size
        axes = (r, r * obj["aspect"])
        if domain == "A":
            colour = _hsv(5 + 22 * obj["hue"], 210, 255 * obj["value"])
            cv2.ellipse(img, (int(round(cx)), int(round(cy))),
                        (int(round(axes[0])), int(round(axes[1]))), obj["angle"], 0, 360,
                        colour, -1, lineType=cv2.LINE_AA)
        else:
            colour = _hsv(95 + 25 * obj["hue"], 200, 255 * obj["value"])
            half = np.sqrt(np.pi) / 2  # a rectangle with the ellipse's area
            box = cv2.boxPoints(((cx, cy), (2 * half * axes[0], 2 * half * axes[1]),
                                 obj["angle"]))
            cv2.fillPoly(img, [np.round(box).astype(np.int32)], colour, lineType=cv2.LINE_AA)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1) - 0.5
    ramp = 1.0 + scene["light"][0] * xx + scene["light"][1] * yy
    out = img.astype(np.float32) * ramp[..., None] + rng.normal(0, NOISE, size=img.shape)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def make_task(size: int) -> dict[str, np.ndarray]:
    """``{"trainA", "trainB", "testA", "testB"}`` -> uint8 NHWC arrays; testA[i] and testB[i]
    draw the same scene, the training sets draw scenes of their own."""
    out = {}
    for k, folder in enumerate(("trainA", "trainB")):
        rng = np.random.default_rng([2014, k])
        out[folder] = np.stack([render(make_scene(rng), folder[-1], size, rng)
                                for _ in range(COUNTS[folder])])
    rng = np.random.default_rng([2014, 2])
    scenes = [make_scene(rng) for _ in range(COUNTS["test"])]
    for folder in ("testA", "testB"):
        out[folder] = np.stack([render(s, folder[-1], size, rng) for s in scenes])
    return out


def ensure_quality_task(root: str, size: int) -> str:
    """Write the task's pictures under ``root`` (official layout: trainA, trainB, testA,
    testB; test files of one scene share a name) unless they are there already."""
    wanted = {"trainA": COUNTS["trainA"], "trainB": COUNTS["trainB"],
              "testA": COUNTS["test"], "testB": COUNTS["test"]}
    if all(len(list_images(os.path.join(root, f))) == n for f, n in wanted.items()):
        return root
    logger.info("generating the quality task (%d px) in %s", size, root)
    for folder, images in make_task(size).items():
        for i, img in enumerate(images):
            write_image(os.path.join(root, folder, f"{i:04d}.png"), img)
    return root


def load_task(root: str) -> dict[str, np.ndarray]:
    """The pictures under ``root`` as uint8 NHWC arrays, in file order."""
    return {f: np.stack([read_image(p) for p in list_images(os.path.join(root, f))])
            for f in ("trainA", "trainB", "testA", "testB")}
