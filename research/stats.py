"""The quality bench's baselines and rank tests: what a translator must beat, and whether two
sets of runs differ (research/quality_bench.py, tests/test_quality.py)."""
from __future__ import annotations

import numpy as np

from ppugatit.metrics.paired import scores


def colour_transfer(images: np.ndarray, target_mean: np.ndarray,
                    target_std: np.ndarray) -> np.ndarray:
    """Per picture and channel, shift and scale to the target domain's mean and std
    (Reinhard et al.'s transfer, in RGB): the baseline that changes palette, not shape."""
    x = images.astype(np.float64)
    mean = x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True) + 1e-6
    out = (x - mean) / std * target_std + target_mean
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A domain's per-channel mean and (per picture, averaged) std, from its training set."""
    x = images.astype(np.float64)
    return x.mean(axis=(0, 1, 2)), x.std(axis=(1, 2)).mean(axis=0)


def baselines(task: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per direction, what a translator must beat: identity (the input itself), colour
    transfer, and the target domain's mean picture (the same blurred output for every input,
    which L1 rewards: a translator that has collapsed to it scores this). ``task`` holds
    trainA, trainB, testA, testB as uint8 NHWC arrays."""
    out = {}
    for direction, src, dst in (("A2B", "A", "B"), ("B2A", "B", "A")):
        real, target = task["test" + src], task["test" + dst]
        mean, std = channel_stats(task["train" + dst])
        out[f"identity_{direction}"] = scores(real, target)
        out[f"colour_transfer_{direction}"] = scores(colour_transfer(real, mean, std), target)
        average = task["train" + dst].astype(np.float64).mean(axis=0) + 0.5
        out[f"target_mean_{direction}"] = scores(
            np.broadcast_to(average.astype(np.uint8), target.shape), target)
    return out


def mann_whitney(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mann-Whitney U of ``a`` against ``b`` and its exact two-sided p-value.

    Whether two sets of runs (ours, the official code's, one score per seed) could come from
    one distribution, without assuming a normal one: a band of three seeds says little, a rank
    test over many says how surprising the difference is. Exact for untied samples (the
    number of orderings with each U, counted by the usual recursion); ties count half.
    """
    m, n = len(a), len(b)
    if not m or not n:
        raise ValueError("both samples need at least one value")
    u = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    # ways[k][j][v]: orderings of k values of a and j of b with U = v
    ways = [[[0] * (m * n + 1) for _ in range(n + 1)] for _ in range(m + 1)]
    for j in range(n + 1):
        ways[0][j][0] = 1
    for k in range(1, m + 1):
        ways[k][0][0] = 1
        for j in range(1, n + 1):
            for v in range(k * j + 1):
                # the largest value is a's (it beats all j of b's) or b's
                ways[k][j][v] = (ways[k - 1][j][v - j] if v >= j else 0) + ways[k][j - 1][v]
    counts = np.array(ways[m][n], dtype=np.float64)
    low = min(u, m * n - u)
    p = 2 * counts[: int(np.floor(low)) + 1].sum() / counts.sum()
    return float(u), float(min(p, 1.0))


def wilcoxon_signed_rank(a: list[float], b: list[float]) -> tuple[float, float]:
    """Wilcoxon's signed-rank W+ of the pairs ``a[i] - b[i]`` and its exact two-sided p-value.

    For runs that share everything but one thing, seed by seed (ours and the official code
    trained from our initial weights: the same draw, each code its own step and data stream),
    a paired test sees a difference that the seed-to-seed spread hides from an unpaired one.
    Zero differences are dropped (Wilcoxon's rule); tied magnitudes share their mean rank, and
    the exact null distribution is counted over all 2^n sign patterns of those ranks.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} and {len(b)})")
    d = np.array([x - y for x, y in zip(a, b) if x != y], dtype=np.float64)
    if not d.size:
        raise ValueError("no pair differs")
    magnitude = np.abs(d)
    order = np.argsort(magnitude, kind="stable")
    ranks2 = np.empty(d.size, dtype=np.int64)  # twice the (mean) ranks: integers with ties
    i = 0
    while i < d.size:
        j = i
        while j + 1 < d.size and magnitude[order[j + 1]] == magnitude[order[i]]:
            j += 1
        ranks2[order[i:j + 1]] = i + j + 2  # 2 x the mean of ranks i+1 .. j+1
        i = j + 1
    w2 = int(ranks2[d > 0].sum())
    ways = np.zeros(int(ranks2.sum()) + 1, dtype=np.float64)
    ways[0] = 1.0
    for r in ranks2:  # each rank counted in W+ or not (r >= 2)
        ways[r:] += ways[:-r].copy()
    total = ways.sum()
    p = 2 * min(ways[:w2 + 1].sum(), ways[w2:].sum()) / total
    return w2 / 2, float(min(p, 1.0))
