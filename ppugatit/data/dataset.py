"""The official data pipeline: folder layout, augmentation and endless unpaired sampling.

Every sample is a pure function of ``(seed, sample index)``: which file each domain gives and
how it is flipped and cropped. A run resumed at iteration k therefore sees exactly the images
an uninterrupted run would, whatever the number of loader workers.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import sys

import numpy as np
import paddle
from PIL import Image

from ppugatit.data.image_io import is_readable, list_images, read_image
from ppugatit.errors import DataError

logger = logging.getLogger("ppugatit")


def domain_files(root: str, folder: str) -> list[str]:
    """Readable images of ``root/folder``; unreadable ones are skipped with a warning each."""
    path = os.path.join(root, folder)
    if not os.path.isdir(path):
        need = ("trainA, trainB (and testA, testB) under dataset.root" if folder
                else "dataset.root to be a folder of images")  # generation models read root
        raise DataError(f"image folder '{path}' does not exist; a data set needs {need}")
    files = list_images(path)
    good = []
    for f in files:
        if is_readable(f):
            good.append(f)
        else:
            logger.warning("skipping unreadable image %s", f)
    if not good:
        raise DataError(f"image folder '{path}' has no readable images"
                        + (f" ({len(files)} unreadable)" if files else ""))
    return good


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 HWC to (h, w) with PIL's bilinear filter, anti-aliased when shrinking: the
    call the official pipeline's transforms.Resize makes on its PIL pictures. OpenCV's
    INTER_LINEAR on uint8 darkens an enlarged picture by 0.13 levels on average and its
    INTER_AREA shrinks with a box filter, up to 15 levels from PIL's (docs/quality.md)."""
    h, w = size
    picture = Image.fromarray(np.ascontiguousarray(img))
    return np.asarray(picture.resize((w, h), Image.Resampling.BILINEAR))


def normalize(img: np.ndarray) -> np.ndarray:
    """uint8 HWC RGB -> float32 CHW in [-1, 1] (ToTensor + Normalize(0.5, 0.5))."""
    return (img.astype(np.float32).transpose(2, 0, 1) / 127.5) - 1.0


def train_transform(img: np.ndarray, img_size: int, rng: np.random.Generator,
                    flip: bool = True) -> np.ndarray:
    """The official augmentation: random flip, resize to img_size+30, random crop to img_size."""
    if flip and rng.random() < 0.5:
        img = img[:, ::-1]
    big = img_size + 30
    img = resize(img, (big, big))
    top, left = rng.integers(0, big - img_size + 1, size=2)
    return normalize(img[top:top + img_size, left:left + img_size])


def eval_transform(img: np.ndarray, img_size: int) -> np.ndarray:
    return normalize(resize(img, (img_size, img_size)))


class EndlessDomains(paddle.io.Dataset):
    """Item i holds one augmented image of each domain, drawn without replacement per epoch.

    The domains are sampled independently (unpaired): domain d's i-th image is file
    ``perm_d_e[i % n_d]`` where the permutation ``perm_d_e`` of epoch ``e = i // n_d`` comes
    from ``(seed, d, e)``.
    """

    def __init__(self, files: dict[str, list[str]], img_size: int, seed: int, flip: bool = True):
        self.files = files
        self.img_size = img_size
        self.seed = seed
        self.flip = flip
        self._perm_cache: dict = {}

    def __len__(self) -> int:
        return 2 ** 62

    def file_for(self, d: int, name: str, i: int) -> str:
        files = self.files[name]
        epoch, pos = divmod(i, len(files))
        key = (d, epoch)
        if key not in self._perm_cache:
            self._perm_cache = {k: v for k, v in self._perm_cache.items() if k[0] != d}
            self._perm_cache[key] = np.random.default_rng([self.seed, d, epoch]).permutation(
                len(files))
        return files[self._perm_cache[key][pos]]

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        out = {}
        for d, name in enumerate(sorted(self.files)):
            path = self.file_for(d, name, int(i))
            img = read_image(path)
            if img is None:
                raise DataError(f"{path}: can no longer be read (it was readable when training "
                                f"started); restore or remove it and resume")
            rng = np.random.default_rng([self.seed, d, int(i), 1])
            out[name] = train_transform(img, self.img_size, rng, self.flip)
        return out


class IterationSampler(paddle.io.BatchSampler):
    """Batches for iterations start+1 .. total: rank r of W takes sample indices
    ``((it - 1) * W + r) * batch_size + b``, so ranks see different images and a resumed run
    continues the same sequence."""

    def __init__(self, start: int, total: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.total = start, total
        self.batch_size, self.rank, self.world = batch_size, rank, world

    def __iter__(self):
        for it in range(self.start + 1, self.total + 1):
            base = ((it - 1) * self.world + self.rank) * self.batch_size
            yield list(range(base, base + self.batch_size))

    def __len__(self) -> int:
        return max(self.total - self.start, 0)


def collate(samples: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def die_with_parent(parent: int, worker_id: int = 0) -> None:
    """A loader worker's init: the kernel kills it when the trainer dies, even by kill -9.

    Paddle's own check of the parent pid never runs while a worker waits in a pipe read, so
    workers outlived a killed trainer. Linux only (prctl); elsewhere Paddle's check remains.
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the trainer died before prctl took effect
        os._exit(1)


def train_loader(files: dict[str, list[str]], img_size: int, seed: int, flip: bool, start: int,
                 total: int, batch_size: int, num_workers: int, rank: int = 0,
                 world: int = 1) -> paddle.io.DataLoader:
    dataset = EndlessDomains(files, img_size, seed, flip)
    sampler = IterationSampler(start, total, batch_size, rank, world)
    return paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                                collate_fn=collate, use_shared_memory=False,
                                worker_init_fn=functools.partial(die_with_parent, os.getpid()))


def load_test_images(files: list[str], img_size: int) -> np.ndarray:
    """A fixed batch (resized, normalised) for sample grids and evaluation."""
    return np.stack([eval_transform(read_image(f), img_size) for f in files])
