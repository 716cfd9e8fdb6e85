"""Reading any image OpenCV can decode as 8-bit RGB, and writing images atomically."""
from __future__ import annotations

import os

import cv2
import numpy as np

from ppugatit.utils import atomic_write

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2",
                    ".pgm", ".ppm", ".pbm", ".pnm", ".pxm", ".sr", ".ras", ".exr", ".hdr",
                    ".pic", ".avif", ".dib", ".jpe")


def is_image_file(path: str) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(folder: str, accept=is_image_file) -> list[str]:
    """Image files (or what ``accept`` takes) directly in ``folder`` and its sub-folders,
    sorted for reproducibility."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, f) for f in sorted(files) if accept(f)]
    return found


def to_rgb8(img: np.ndarray) -> np.ndarray:
    """Grey, BGR(A), 16-bit or float images from ``cv2.imdecode`` -> uint8 RGB."""
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def read_image(path: str) -> np.ndarray | None:
    """uint8 RGB HWC, or None if the file cannot be decoded (works with non-ASCII paths)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        return None
    return to_rgb8(img)


def is_readable(path: str) -> bool:
    """A quick decode check (JPEGs are decoded at 1/8 scale)."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return False
    if data.size == 0:
        return False
    img = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_8)
    if img is None:
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    return img is not None and img.size > 0


def shrink_to_side(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` with its long side at most ``side`` (area averaging); smaller ones as they are."""
    h, w = img.shape[:2]
    scale = side / max(h, w)
    if scale >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def write_image(path: str, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image; the format follows the extension; atomic."""
    ext = os.path.splitext(path)[1] or ".png"
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError(f"{path}: OpenCV cannot encode '{ext}' images")
    atomic_write(path, lambda tmp: buf.tofile(tmp))
