"""FID and KID as the reference metric code computes them, a second way beside ours.

The camp's metric check compares our numbers with the reference code's on the same features.
These are transcriptions of the published formulas in the reference code's own route:
pytorch-fid's Frechet distance takes ``scipy.linalg.sqrtm`` of the product of the two
covariances (an eps ridge when that is singular); the KID authors' code (used by NICE-GAN)
sums the kernel matrices with their diagonals removed. Ours takes other routes (eigenvalues
of a symmetric product, or the SVD of the small cross matrix): the two agreeing is the check.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray,
                     eps: float = 1e-6) -> float:
    """pytorch-fid's ``calculate_frechet_distance`` of the two sets' Gaussians."""
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = scipy.linalg.sqrtm(sigma1 @ sigma2, disp=False)
    if not np.isfinite(covmean).all():
        ridge = np.eye(len(sigma1)) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic kernel (x.y / d + 1)^3, for two sets of one size m."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    m, d = x.shape
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    sum_xx = k_xx.sum() - np.diagonal(k_xx).sum()
    sum_yy = k_yy.sum() - np.diagonal(k_yy).sum()
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kid_subsets(fake: np.ndarray, real: np.ndarray, index_fake: np.ndarray,
                index_real: np.ndarray) -> np.ndarray:
    """MMD^2 on each pair of subsets (row i of the index arrays), as the reference loops."""
    fake, real = np.asarray(fake), np.asarray(real)
    return np.array([polynomial_mmd2(fake[i], real[j]) for i, j in zip(index_fake, index_real)])
