"""KID and FID of fake images against real ones: what ``tools/eval.py`` computes and prints.

Real and fake sets are folders (features cached next to them) or lists of uint8 RGB images
(the translated test sets, straight from a model).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from ppugatit.metrics.features import features, folder_features, image_files
from ppugatit.metrics.fid_kid import KID, check_kid_args, fid, kid, mean_kid
from ppugatit.metrics.inception import RANDOM_PREFIX, FIDInceptionV3

Images = Union[str, Sequence[np.ndarray]]


@dataclass
class Scores:
    kid: KID
    fid: float
    n_real: int
    n_fake: int
    weights_id: str
    mean_kid: KID | None = None  # with a source folder: the U-GAT-IT authors' mean_KID

    @property
    def meaningless(self) -> bool:
        """Computed with random Inception weights (tests only)."""
        return self.weights_id.startswith(RANDOM_PREFIX)


def _features(images: Images, model: FIDInceptionV3, batch_size: int, cache: bool,
              progress: bool) -> np.ndarray:
    if isinstance(images, (str, os.PathLike)):
        return folder_features(os.fspath(images), model, batch_size,
                               cache="" if cache else None, progress=progress)
    return features(images, model, batch_size, progress)


def evaluate(real: Images, fake: Images, model: FIDInceptionV3, batch_size: int = 50,
             kid_subsets: int = 50, kid_subset_size: int = 1000, seed: int = 0,
             cache: bool = True, progress: bool = True, source: Images | None = None) -> Scores:
    """KID over random subsets (NICE-GAN's defaults: 50 of up to 1000 images) and FID; with
    ``source`` (the pictures that were translated) also mean_KID."""
    check_kid_args(kid_subsets, kid_subset_size)  # bad input fails now, not after Inception
    for images in (real, fake, source):
        if isinstance(images, (str, os.PathLike)):
            image_files(os.fspath(images))
    real_f = _features(real, model, batch_size, cache, progress)
    fake_f = _features(fake, model, batch_size, cache, progress)
    k = kid(fake_f, real_f, kid_subsets, kid_subset_size, seed)
    m = None
    if source is not None:
        source_f = _features(source, model, batch_size, cache, progress)
        m = mean_kid(k, kid(fake_f, source_f, kid_subsets, kid_subset_size, seed))
    return Scores(k, fid(fake_f, real_f), len(real_f), len(fake_f), model.weights_id, m)


def format_scores(scores: Scores) -> str:
    """KID x 100 +- std x 100, as the U-GAT-IT paper prints it, and FID."""
    k = scores.kid
    lines = [f"real: {scores.n_real} images, fake: {scores.n_fake} images",
             f"KID x 100: {100 * k.mean:.4f} +- {100 * k.std:.4f}  (unbiased MMD^2, cubic "
             f"polynomial kernel, {len(k.subsets)} subsets of {k.subset_size})",
             f"FID: {scores.fid:.4f}"]
    if scores.mean_kid is not None:
        m = scores.mean_kid
        lines.append(f"mean_KID x 100: {100 * m.mean:.4f} +- {100 * m.std:.4f}  (the U-GAT-IT "
                     f"authors' mean of KID(real, fake) and KID(source, fake): what the paper's "
                     f"table compares with, docs/metrics.md)")
    if scores.meaningless:
        warning = (f"WARNING: random Inception weights ({scores.weights_id}): these numbers "
                   f"are meaningless, for testing only")
        lines = [warning, lines[0]] + [line + "  [meaningless]" for line in lines[1:]]
    return "\n".join(lines)
