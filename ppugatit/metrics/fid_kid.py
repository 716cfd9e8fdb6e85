"""FID and KID from Inception features, computed as NICE-GAN's ``metric/fid_kid.py`` does.

Everything is float64. FID's matrix square root avoids scipy: tr sqrt(S1 S2) equals the sum of
the square roots of the eigenvalues of the symmetric PSD matrix sqrt(S1) S2 sqrt(S1), which
``eigh`` gets stably; :func:`fid` gets the same trace from the features themselves when there
are fewer images than feature dimensions, which is faster and exact where the covariances are
singular (the square root amplifies the round-off in their zero eigenvalues).
KID is the unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3, averaged over random
subsets; its spread is the population standard deviation (``np.std``, ddof 0), as NICE-GAN's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ppugatit.errors import DataError


def _as_features(features: np.ndarray, what: str) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise DataError(f"{what}: need at least 2 feature vectors as an [N, D] array, got shape "
                        f"{list(f.shape)}; add images")
    return f


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (``np.cov(rowvar=False)``: unbiased, N - 1) of ``[N, D]`` features."""
    f = _as_features(features, "features")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 sqrt(S1 S2))."""
    root1 = _psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    m = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum()
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def fid(features_a: np.ndarray, features_b: np.ndarray, method: str = "auto") -> float:
    """FID of two feature sets; ``method`` "covariance" is :func:`frechet_distance` on the
    Gaussians, "features" the same value from the centred features, "auto" the cheaper one.

    With centred features A1, A2, S1 S2 = A1'A1 A2'A2 / c shares its non-zero eigenvalues
    with (A1 A2')(A1 A2')' / c, so tr sqrt(S1 S2) is the sum of the singular values of the
    small N1 x N2 matrix A1 A2', divided by sqrt(c), c = (N1 - 1)(N2 - 1): with test sets of a
    few hundred images this is milliseconds, not two 2048 x 2048 eigen-decompositions.
    """
    a = _as_features(features_a, "features")
    b = _as_features(features_b, "features")
    if method == "auto":
        method = "features" if min(len(a), len(b)) < a.shape[1] else "covariance"
    if method == "covariance":
        return frechet_distance(*gaussian(a), *gaussian(b))
    if method != "features":
        raise ValueError(f"unknown FID method '{method}'")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ca, cb = a - mu_a, b - mu_b
    tr_covmean = np.linalg.svd(ca @ cb.T, compute_uv=False).sum() / np.sqrt(
        (len(a) - 1) * (len(b) - 1))
    diff = mu_a - mu_b
    return float(diff @ diff + (ca * ca).sum() / (len(a) - 1) + (cb * cb).sum() / (len(b) - 1)
                 - 2.0 * tr_covmean)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two feature sets (the kernel's diagonal left out of k(x, x), k(y, y))."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, m = len(x), len(y)
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    return float((k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
                 + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
                 - 2.0 * k_xy.sum() / (n * m))


def kid_subsets(fake: np.ndarray, real: np.ndarray, index_fake: np.ndarray,
                index_real: np.ndarray) -> np.ndarray:
    """MMD^2 on given subsets: row ``i`` of each index array selects subset ``i``'s rows."""
    fake = _as_features(fake, "fake features")
    real = _as_features(real, "real features")
    return np.array([mmd2_unbiased(fake[i], real[j]) for i, j in zip(index_fake, index_real)])


def subset_indices(n_fake: int, n_real: int, n_subsets: int, subset_size: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Random subsets without replacement, as NICE-GAN draws them; ``subset_size`` is capped
    at the smaller set's size (then, with equal sizes, every subset is the whole set)."""
    size = min(subset_size, n_fake, n_real)
    rng = np.random.default_rng(seed)
    index_fake = np.empty((n_subsets, size), dtype=np.int64)
    index_real = np.empty((n_subsets, size), dtype=np.int64)
    for i in range(n_subsets):
        index_fake[i] = rng.choice(n_fake, size, replace=False)
        index_real[i] = rng.choice(n_real, size, replace=False)
    return index_fake, index_real, size


def check_kid_args(n_subsets: int, subset_size: int) -> None:
    if n_subsets < 1 or subset_size < 2:
        raise DataError(f"KID needs at least 1 subset of at least 2 images, got {n_subsets} "
                        f"subsets of {subset_size}")


@dataclass
class KID:
    mean: float
    std: float
    subsets: np.ndarray
    subset_size: int


def kid(fake: np.ndarray, real: np.ndarray, n_subsets: int = 50, subset_size: int = 1000,
        seed: int = 0) -> KID:
    """KID (raw: papers print x 100) over ``n_subsets`` random subsets; NICE-GAN's defaults."""
    check_kid_args(n_subsets, subset_size)
    fake = _as_features(fake, "fake features")
    real = _as_features(real, "real features")
    index_fake, index_real, size = subset_indices(len(fake), len(real), n_subsets, subset_size,
                                                  seed)
    values = kid_subsets(fake, real, index_fake, index_real)
    return KID(float(values.mean()), float(values.std()), values, size)


def mean_kid(kid_target: KID, kid_source: KID) -> KID:
    """The U-GAT-IT authors' ``mean_KID``: the average of KID(target, fake) and KID(source,
    fake), means and stds averaged alike (taki0112/GAN_Metrics-Tensorflow,
    ``mean_kernel_inception_distance``). Not a KID of the target domain: it also rewards
    translations that stay close to their source (docs/metrics.md)."""
    return KID((kid_target.mean + kid_source.mean) / 2, (kid_target.std + kid_source.std) / 2,
               (kid_target.subsets + kid_source.subsets) / 2, kid_target.subset_size)
