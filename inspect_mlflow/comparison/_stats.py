"""Paired statistics on per-sample differences ``d_i = candidate_i - baseline_i``.

Every function here takes the per-question (epoch-averaged) differences: the question, not the
epoch, is the unit of analysis, so repeated epochs of one question never count as independent
observations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats

Correction = Literal["holm", "bh", "none"]
CORRECTIONS: tuple[str, ...] = ("holm", "bh", "none")


@dataclass(frozen=True)
class TestResult:
    """Outcome of one paired test: p-value, confidence interval and standard error of the mean."""

    test: str
    p_value: float | None
    ci_lower: float | None
    ci_upper: float | None
    standard_error: float | None
    df: float | None = None
    clusters: int | None = None


def mcnemar_exact(n01: int, n10: int, n: int, alpha: float) -> TestResult:
    """Exact McNemar test for paired binary scores, with a dual confidence interval.

    ``n01`` pairs went 0 → 1, ``n10`` went 1 → 0, out of ``n`` pairs. Conditional on the
    ``m = n01 + n10`` discordant pairs, ``n01 ~ Binomial(m, π)`` and the paired difference in
    accuracy is ``Δ = (n01 - n10) / n = (m / n)(2π - 1)``; ``H0: Δ = 0`` is ``π = 1/2``.

    The p-value is the two-sided exact binomial test of ``π = 1/2``; the interval is the
    Clopper–Pearson interval for ``π`` mapped to ``Δ``. At ``π = 1/2`` the binomial is symmetric,
    so the two-sided p-value is twice the smaller tail and Clopper–Pearson (two one-sided tests
    at ``α/2``) excludes 1/2 exactly when that p-value is below ``α``: the interval excludes 0
    if and only if ``p < α``. With no discordant pairs ``p = 1`` and the interval is ``[0, 0]``.

    The standard error is that of the mean paired difference, ``sd(d) / √n``.
    """
    if n <= 0:
        return TestResult("mcnemar-exact", None, None, None, None)
    differences = np.concatenate([np.ones(n01), -np.ones(n10), np.zeros(n - n01 - n10)])
    se = float(np.std(differences, ddof=1) / math.sqrt(n)) if n > 1 else None
    discordant = n01 + n10
    if discordant == 0:
        return TestResult("mcnemar-exact", 1.0, 0.0, 0.0, se)
    result = stats.binomtest(n01, discordant, 0.5)
    interval = result.proportion_ci(confidence_level=1.0 - alpha, method="exact")
    scale = discordant / n
    return TestResult(
        "mcnemar-exact",
        float(min(1.0, result.pvalue)),
        scale * (2.0 * float(interval.low) - 1.0),
        scale * (2.0 * float(interval.high) - 1.0),
        se,
    )


def paired_t(differences: Sequence[float], alpha: float) -> TestResult:
    """Paired t-test: ``t = d̄ / (s_d / √n)`` on ``n - 1`` degrees of freedom.

    When all differences are equal (``s_d = 0``) the statistic is degenerate: ``p = 1`` and the
    interval is ``[0, 0]`` if they are all 0, otherwise ``p = 0`` and the interval is the point
    ``[d̄, d̄]`` (the limit of the test as the spread goes to 0). Fewer than 2 pairs: no test.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    if n < 2:
        return TestResult("paired-t", None, None, None, None)
    if _all_equal(d):
        return _degenerate("paired-t", float(d[0]), float(n - 1))
    se = float(np.std(d, ddof=1) / math.sqrt(n))
    return _t_result("paired-t", float(d.mean()), se, float(n - 1), alpha)


def clustered_t(
    differences: Sequence[float], clusters: Sequence[object], alpha: float
) -> TestResult:
    """Paired t-test with a cluster-robust (CR1) standard error, on ``G - 1`` degrees of freedom.

    ``SE = (1/n) · sqrt(G/(G-1) · Σ_c (Σ_{i∈c} d_i - n_c · d̄)²)``: questions that share a
    cluster (a passage, a template, a source document) are not independent, and this is the
    standard error Inspect's ``stderr(cluster=...)`` uses. Fewer than 2 clusters: no test.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    sums, sizes = _cluster_sums(d, clusters)
    groups = sums.size
    if n < 2 or groups < 2:
        return TestResult("clustered-t", None, None, None, None, clusters=groups)
    mean = float(d.mean())
    residual = sums - sizes * mean
    se = float(math.sqrt(groups / (groups - 1) * float(np.sum(residual**2))) / n)
    if se == 0.0:
        # every cluster's mean difference equals d̄: the same limit as in paired_t
        return replace(_degenerate("clustered-t", mean, float(groups - 1)), clusters=groups)
    return replace(_t_result("clustered-t", mean, se, float(groups - 1), alpha), clusters=groups)


def paired_bootstrap(
    differences: Sequence[float],
    alpha: float,
    n_bootstrap: int = 10_000,
    seed: int | None = 0,
    clusters: Sequence[object] | None = None,
) -> TestResult:
    """Paired (or cluster) bootstrap of the mean difference: percentile CI and its dual p-value.

    Each replicate resamples the ``n`` questions with replacement (or the ``G`` clusters, when
    ``clusters`` is given, taking the ratio of summed differences to summed sizes), drawn from
    ``numpy.random.default_rng(seed)`` as ``integers(0, n, size=(replicates, n))`` in chunks.
    The interval is the ``α/2`` and ``1 - α/2`` quantiles of the replicate means; the p-value
    ``min(1, 2 · min((#{m* ≤ 0} + 1), (#{m* ≥ 0} + 1)) / (B + 1))`` inverts that interval
    (with the usual +1 so it is never exactly 0). The standard error is the replicates' sd.
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    name = "paired-bootstrap" if clusters is None else "cluster-bootstrap"
    if n < 2:
        return TestResult(name, None, None, None, None)
    rng = np.random.default_rng(seed)
    if clusters is None:
        means = _bootstrap_means(rng, n, n_bootstrap, lambda idx: d[idx].mean(axis=1))
        groups = None
    else:
        sums, sizes = _cluster_sums(d, clusters)
        groups = int(sums.size)
        if groups < 2:
            return TestResult(name, None, None, None, None, clusters=groups)
        means = _bootstrap_means(
            rng, groups, n_bootstrap, lambda idx: sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
        )
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    below = int(np.count_nonzero(means <= 0.0))
    above = int(np.count_nonzero(means >= 0.0))
    p_value = min(1.0, 2.0 * min(below + 1, above + 1) / (n_bootstrap + 1))
    se = float(np.std(means, ddof=1))
    return TestResult(name, p_value, float(low), float(high), se, clusters=groups)


def cohens_dz(differences: Sequence[float]) -> float | None:
    """Cohen's d_z: mean of the paired differences over their standard deviation (ddof=1).

    When all differences are equal (sd = 0) the ratio is defined by its limit: ``+inf`` or
    ``-inf`` when the common difference is positive or negative, ``0.0`` when it is 0.
    ``None`` for fewer than 2 pairs.
    """
    d = np.asarray(differences, dtype=float)
    if d.size < 2:
        return None
    if _all_equal(d):
        value = float(d[0])
        return 0.0 if value == 0.0 else math.copysign(math.inf, value)
    return float(d.mean() / np.std(d, ddof=1))


def minimum_detectable_effect(
    standard_error: float | None, alpha: float, power: float = 0.8
) -> float | None:
    """Smallest true difference the test detects with probability ``power`` at level ``alpha``.

    ``(z_{1-α/2} + z_{power}) · SE`` (≈ 2.8 · SE at α = 0.05, power 0.8). ``None`` when the
    standard error is unknown or 0 (no spread to extrapolate from).
    """
    if standard_error is None or not standard_error > 0.0:
        return None
    z = float(stats.norm.ppf(1.0 - alpha / 2.0) + stats.norm.ppf(power))
    return z * standard_error


def binary_zero_discordance_se(n: int, alpha: float) -> float | None:
    """Standard error to use for the MDE of a binary comparison with no discordant pairs.

    With no discordant pairs the observed SE is 0, which would claim any effect is detectable.
    Instead take the one-sided ``1 - α`` upper bound on the discordance rate, ``q = 1 - α^(1/n)``
    (the Clopper–Pearson bound for 0 events, ≈ 3/n at α = 0.05), and the SE of the mean paired
    difference under ``H0`` at that rate, ``sqrt(q / n)``.
    """
    if n < 1:
        return None
    rate = 1.0 - alpha ** (1.0 / n)
    return math.sqrt(rate / n)


def adjust_p_values(p_values: Sequence[float | None], method: str = "holm") -> list[float | None]:
    """Adjust p-values for multiple comparisons; ``None`` entries pass through and do not count.

    - ``holm``: Holm's step-down (controls the family-wise error rate; for gates):
      ``p̃_(i) = max_{j ≤ i} min(1, (m - j + 1) · p_(j))`` over p-values sorted ascending.
    - ``bh``: Benjamini–Hochberg step-up (controls the false discovery rate; for exploration):
      ``p̃_(i) = min_{j ≥ i} min(1, m / j · p_(j))``.
    - ``none``: unchanged.

    The orchestrator uses this to correct across all the comparisons of a sweep.
    """
    if method not in CORRECTIONS:
        raise ValueError(
            f"unknown p-value correction {method!r}; use one of {', '.join(CORRECTIONS)}"
        )
    present = [(i, float(p)) for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    for i, p in present:
        if math.isnan(p) or p < 0.0 or p > 1.0:
            raise ValueError(f"p-value out of range: {p!r}")
        adjusted[i] = p
    m = len(present)
    if method == "none" or m == 0:
        return adjusted
    ordered = sorted(present, key=lambda item: item[1])
    if method == "holm":
        running = 0.0
        for rank, (i, p) in enumerate(ordered):
            running = max(running, min(1.0, (m - rank) * p))
            adjusted[i] = running
    else:
        running = 1.0
        for rank in range(m - 1, -1, -1):
            i, p = ordered[rank]
            running = min(running, min(1.0, m / (rank + 1) * p))
            adjusted[i] = running
    return adjusted


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default); ``None`` for no values."""
    if len(values) == 0:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def _t_result(test: str, mean: float, se: float, df: float, alpha: float) -> TestResult:
    t = mean / se
    p_value = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1.0 - alpha / 2.0, df)) * se
    return TestResult(test, min(1.0, p_value), mean - half, mean + half, se, df)


def _degenerate(test: str, value: float, df: float) -> TestResult:
    return TestResult(test, 1.0 if value == 0.0 else 0.0, value, value, 0.0, df)


def _all_equal(d: np.ndarray) -> bool:
    return bool(d.size > 0 and np.all(d == d[0]))


def _cluster_sums(d: np.ndarray, clusters: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    if len(clusters) != d.size:
        raise ValueError("one cluster label is needed per difference")
    index: dict[object, int] = {}
    codes = np.fromiter(
        (index.setdefault(label, len(index)) for label in clusters), dtype=np.int64, count=d.size
    )
    sums = np.bincount(codes, weights=d, minlength=len(index)) if d.size else np.zeros(0)
    sizes = np.bincount(codes, minlength=len(index)).astype(float) if d.size else np.zeros(0)
    return sums, sizes


_BOOTSTRAP_CHUNK_ELEMENTS = 4_000_000
"""Resample indices drawn per chunk (~32 MB of int64), bounding memory for large ``n``."""


def _bootstrap_means(
    rng: np.random.Generator,
    size: int,
    replicates: int,
    statistic: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // max(1, size))
    parts: list[np.ndarray] = []
    done = 0
    while done < replicates:
        rows = min(chunk, replicates - done)
        idx = rng.integers(0, size, size=(rows, size))
        parts.append(np.asarray(statistic(idx), dtype=float))
        done += rows
    return np.concatenate(parts)
