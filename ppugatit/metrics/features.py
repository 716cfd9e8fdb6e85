"""Inception pool3 features of a folder of images or of arrays of images, with a cache.

Images go in as 8-bit RGB, as the papers score saved image files: pixel / 127.5 - 1, then
pytorch-fid's bilinear resize to 299 inside the network. Inception at 299 px is slow on a CPU,
so a folder's features are cached in an ``.npz`` keyed by its file list, sizes and mtimes and
by the weights: a changed image or other weights recompute them.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import zipfile
from typing import Sequence

import numpy as np
import paddle

from ppugatit.data.image_io import list_images, read_image
from ppugatit.errors import DataError
from ppugatit.metrics.inception import FEATURE_DIM, FIDInceptionV3
from ppugatit.utils import atomic_write

CACHE_VERSION = "fid-inception-pool3-v1"
CACHE_SUFFIX = ".inception.npz"


def image_files(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder of images")
    files = list_images(folder)
    if not files:
        raise DataError(f"{folder}: holds no image files (.png, .jpg, ...)")
    return files


def _read(path: str) -> np.ndarray:
    img = read_image(path)
    if img is None:
        raise DataError(f"{path}: cannot be decoded as an image; remove or replace it")
    return img


def _check(img: np.ndarray, i: int) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise DataError(f"image {i}: expected uint8 RGB of shape [H, W, 3], got {img.dtype} "
                        f"{list(img.shape)}")
    return img


def _to_input(img: np.ndarray) -> paddle.Tensor:
    x = img.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(127.5) - np.float32(1.0)
    return paddle.to_tensor(x)


class _Progress:
    """One self-overwriting line on stderr (no dependency)."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled = total, label, enabled

    def update(self, done: int) -> None:
        if self.enabled:
            end = "\n" if done >= self.total else ""
            print(f"\r{self.label}: {done}/{self.total} images", end=end, file=sys.stderr,
                  flush=True)


def features(images_or_folder: str | Sequence[np.ndarray], model: FIDInceptionV3,
             batch_size: int = 50, progress: bool = True) -> np.ndarray:
    """``[N, 2048]`` float32 features of a folder (sorted file names) or of uint8 RGB
    ``[H, W, 3]`` images (a list, or an ``[N, H, W, 3]`` array); sizes may differ."""
    if isinstance(images_or_folder, (str, os.PathLike)):
        folder = os.fspath(images_or_folder)
        return _files_features(image_files(folder), folder, model, batch_size, progress)
    images = images_or_folder
    if len(images) == 0:
        raise DataError("no images to compute Inception features of")
    return _compute(len(images), lambda i: _check(images[i], i), "images", model, batch_size,
                    progress)


def _files_features(files: list[str], label: str, model: FIDInceptionV3, batch_size: int,
                    progress: bool) -> np.ndarray:
    return _compute(len(files), lambda i: _read(files[i]), label, model, batch_size, progress)


def _compute(count: int, load, label: str, model: FIDInceptionV3, batch_size: int,
             progress: bool) -> np.ndarray:
    if batch_size < 1:
        raise DataError(f"batch size must be positive, got {batch_size}")
    out = np.empty((count, FEATURE_DIM), dtype=np.float32)
    bar = _Progress(count, f"Inception features of {label}", progress)
    model.eval()
    with paddle.no_grad():
        for start in range(0, count, batch_size):
            stop = min(count, start + batch_size)
            batch = paddle.concat([model.resize(_to_input(load(i))) for i in range(start, stop)])
            out[start:stop] = model.pool3(batch).numpy()
            bar.update(stop)
    return out


def default_cache_path(folder: str) -> str:
    """``<folder>.inception.npz``, next to the folder it describes."""
    return os.path.abspath(folder).rstrip(os.sep) + CACHE_SUFFIX


def cache_key(files: list[str], folder: str, weights_id: str) -> str:
    """What the features depend on: each file's relative path, size and mtime, and the weights."""
    entries = []
    for path in files:
        st = os.stat(path)
        entries.append([os.path.relpath(path, folder), st.st_size, st.st_mtime_ns])
    blob = json.dumps([CACHE_VERSION, weights_id, entries]).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


def _load_cache(path: str, key: str) -> np.ndarray | None:
    try:
        with np.load(path) as data:
            if str(data["key"]) == key:
                return data["features"]
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        pass  # absent, damaged or stale: recompute
    return None


def _save_cache(path: str, key: str, feats: np.ndarray) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), features=feats)
    try:
        atomic_write(path, write)
    except OSError as e:
        print(f"warning: cannot write the feature cache {path} ({e.strerror or e}); "
              f"features will be recomputed next time", file=sys.stderr)


def folder_features(folder: str, model: FIDInceptionV3, batch_size: int = 50,
                    cache: str | None = "", progress: bool = True) -> np.ndarray:
    """:func:`features` of a folder through the cache: ``cache`` is the cache file, "" for
    :func:`default_cache_path`, None for no cache."""
    files = image_files(folder)
    if cache is None or not model.weights_id:  # unknown weights: a cache could be stale
        return _files_features(files, folder, model, batch_size, progress)
    path = cache or default_cache_path(folder)
    key = cache_key(files, folder, model.weights_id)
    feats = _load_cache(path, key)
    if feats is None:
        feats = _files_features(files, folder, model, batch_size, progress)
        _save_cache(path, key, feats)
    elif progress:
        print(f"Inception features of {folder}: {len(feats)} images, from {path}",
              file=sys.stderr)
    return feats
