"""The statistics, each checked against an independent computation written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from inspect_mlflow.comparison import adjust_p_values
from inspect_mlflow.comparison._stats import (
    binary_zero_discordance_se,
    clustered_t,
    cohens_dz,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_bootstrap,
    paired_t,
)

Z_SUM_05 = 1.959963984540054 + 0.8416212335729143  # z_{0.975} + z_{0.8}


def exact_two_sided_p(k: int, m: int) -> float:
    """Two-sided exact binomial p at π = 1/2 (= twice the smaller tail, capped at 1)."""
    lower = sum(math.comb(m, j) for j in range(0, k + 1)) / 2**m
    upper = sum(math.comb(m, j) for j in range(k, m + 1)) / 2**m
    return min(1.0, 2 * min(lower, upper))


def test_mcnemar_matches_hand_computation() -> None:
    # 6 pairs went 0 -> 1, 4 went 1 -> 0, out of 18 pairs
    result = mcnemar_exact(6, 4, 18, 0.05)
    assert result.p_value == pytest.approx(2 * (210 + 120 + 45 + 10 + 1) / 1024, abs=1e-12)
    low = stats.beta.ppf(0.025, 6, 10 - 6 + 1)  # Clopper-Pearson
    high = stats.beta.ppf(0.975, 6 + 1, 10 - 6)
    assert result.ci_lower == pytest.approx(10 / 18 * (2 * low - 1), abs=1e-9)
    assert result.ci_upper == pytest.approx(10 / 18 * (2 * high - 1), abs=1e-9)
    d = np.array([1] * 6 + [-1] * 4 + [0] * 8, dtype=float)
    assert result.standard_error == pytest.approx(d.std(ddof=1) / math.sqrt(18))


def test_mcnemar_uses_scipy_binomtest_on_discordant_pairs() -> None:
    for n01, n10 in [(0, 7), (3, 12), (9, 9), (15, 2)]:
        result = mcnemar_exact(n01, n10, 40, 0.05)
        assert result.p_value == pytest.approx(stats.binomtest(n01, n01 + n10, 0.5).pvalue)
        assert result.p_value == pytest.approx(exact_two_sided_p(n01, n01 + n10))


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_mcnemar_interval_excludes_zero_iff_p_below_alpha(alpha: float) -> None:
    checked = 0
    for n01 in range(0, 19):
        for n10 in range(0, 19):
            result = mcnemar_exact(n01, n10, 60, alpha)
            assert result.ci_lower is not None and result.ci_upper is not None
            assert result.p_value is not None
            excludes_zero = result.ci_lower > 0 or result.ci_upper < 0
            assert excludes_zero == (result.p_value < alpha), (n01, n10, result)
            checked += excludes_zero
    assert 20 < checked < 19 * 19 - 20  # the property was exercised on both sides


def test_mcnemar_without_discordant_pairs() -> None:
    result = mcnemar_exact(0, 0, 25, 0.05)
    assert (result.p_value, result.ci_lower, result.ci_upper) == (1.0, 0.0, 0.0)
    # MDE fallback: one-sided 95% upper bound on the discordance rate, SE under H0 at that rate
    rate = 1 - 0.05 ** (1 / 25)
    assert binary_zero_discordance_se(25, 0.05) == pytest.approx(math.sqrt(rate / 25))


def test_paired_t_matches_formula_and_scipy() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 30)
    cand = base + rng.normal(0.08, 0.2, 30)
    d = cand - base
    result = paired_t(d.tolist(), 0.05)
    n = d.size
    se = d.std(ddof=1) / math.sqrt(n)
    t = d.mean() / se
    assert result.standard_error == pytest.approx(se)
    assert result.df == n - 1
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(t), n - 1))
    assert result.p_value == pytest.approx(stats.ttest_rel(cand, base).pvalue)
    half = stats.t.ppf(0.975, n - 1) * se
    assert result.ci_lower == pytest.approx(d.mean() - half)
    assert result.ci_upper == pytest.approx(d.mean() + half)


def test_paired_t_degenerate_cases() -> None:
    assert paired_t([0.2, 0.2, 0.2], 0.05).p_value == 0.0
    assert paired_t([0.2, 0.2, 0.2], 0.05).ci_lower == pytest.approx(0.2)
    assert paired_t([0.0, 0.0], 0.05).p_value == 1.0
    assert paired_t([0.5], 0.05).p_value is None


def test_clustered_t_matches_cr1_formula() -> None:
    d = [0.1, 0.3, -0.2, 0.4, 0.0, 0.2, 0.5, 0.1, -0.1]
    clusters = ["a", "a", "b", "b", "b", "c", "c", "d", "d"]
    n = len(d)
    mean = sum(d) / n
    groups: dict[str, list[float]] = {}
    for value, label in zip(d, clusters, strict=True):
        groups.setdefault(label, []).append(value)
    g = len(groups)
    total = sum((sum(vals) - len(vals) * mean) ** 2 for vals in groups.values())
    se = math.sqrt(g / (g - 1) * total) / n
    result = clustered_t(d, clusters, 0.05)
    assert result.standard_error == pytest.approx(se)
    assert result.df == g - 1 and result.clusters == g
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(mean / se), g - 1))
    half = stats.t.ppf(0.975, g - 1) * se
    assert result.ci_lower == pytest.approx(mean - half)
    # the same standard error as Inspect's own stderr(cluster=...)
    from inspect_ai.scorer._metrics.std import _clustered_stderr

    assert result.standard_error == pytest.approx(_clustered_stderr(list(groups.values())))


def test_clustered_t_needs_two_clusters() -> None:
    assert clustered_t([0.1, 0.2, 0.3], ["x", "x", "x"], 0.05).p_value is None


def test_paired_bootstrap_replicates_written_out() -> None:
    rng = np.random.default_rng(11)
    d = rng.normal(0.1, 0.3, 25)
    result = paired_bootstrap(d.tolist(), 0.05, n_bootstrap=2000, seed=7)
    idx = np.random.default_rng(7).integers(0, d.size, size=(2000, d.size))
    means = d[idx].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    assert result.ci_lower == pytest.approx(low) and result.ci_upper == pytest.approx(high)
    k_low, k_high = (means <= 0).sum(), (means >= 0).sum()
    assert result.p_value == pytest.approx(min(1.0, 2 * min(k_low + 1, k_high + 1) / 2001))
    assert result.standard_error == pytest.approx(means.std(ddof=1))
    # close to the t interval for a well-behaved sample
    t = paired_t(d.tolist(), 0.05)
    assert t.ci_lower is not None
    assert result.ci_lower == pytest.approx(t.ci_lower, abs=0.04)


def test_cluster_bootstrap_resamples_clusters() -> None:
    d = np.array([0.1, 0.3, -0.2, 0.4, 0.0, 0.2, 0.5, 0.1, -0.1])
    labels = ["a", "a", "b", "b", "b", "c", "c", "d", "d"]
    result = paired_bootstrap(d.tolist(), 0.1, n_bootstrap=500, seed=1, clusters=labels)
    sums = np.array([0.4, 0.2, 0.7, 0.0])
    sizes = np.array([2.0, 3.0, 2.0, 2.0])
    idx = np.random.default_rng(1).integers(0, 4, size=(500, 4))
    means = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    low, high = np.quantile(means, [0.05, 0.95])
    assert result.test == "cluster-bootstrap" and result.clusters == 4
    assert result.ci_lower == pytest.approx(low) and result.ci_upper == pytest.approx(high)


def test_bootstrap_chunking_does_not_change_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    from inspect_mlflow.comparison import _stats

    d = np.linspace(-0.5, 1.0, 40).tolist()
    whole = paired_bootstrap(d, 0.05, n_bootstrap=1000, seed=5)
    monkeypatch.setattr(_stats, "_BOOTSTRAP_CHUNK_ELEMENTS", 40 * 7)  # 7 replicates per chunk
    assert paired_bootstrap(d, 0.05, n_bootstrap=1000, seed=5) == whole


def test_cohens_dz() -> None:
    d = np.array([0.2, -0.1, 0.4, 0.3, 0.0])
    assert cohens_dz(d.tolist()) == pytest.approx(d.mean() / d.std(ddof=1))
    # all differences equal: the limit of mean/sd as sd -> 0
    assert cohens_dz([0.1, 0.1, 0.1]) == math.inf
    assert cohens_dz([-1.0, -1.0]) == -math.inf
    assert cohens_dz([0.0, 0.0, 0.0]) == 0.0
    assert cohens_dz([0.3]) is None


def test_minimum_detectable_effect() -> None:
    assert minimum_detectable_effect(0.05, 0.05) == pytest.approx(Z_SUM_05 * 0.05)
    z = stats.norm.ppf(1 - 0.01 / 2) + stats.norm.ppf(0.9)
    assert minimum_detectable_effect(0.02, 0.01, power=0.9) == pytest.approx(z * 0.02)
    assert minimum_detectable_effect(0.0, 0.05) is None
    assert minimum_detectable_effect(None, 0.05) is None


def test_holm_hand_computed() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, max(0.06, 0.04*1)=0.06
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm") == pytest.approx(
        [0.03, 0.06, 0.06, 0.02]
    )
    assert adjust_p_values([0.5, 0.4], "holm") == pytest.approx([0.8, 0.8])
    assert adjust_p_values([0.6, 0.7, 0.2], "holm") == pytest.approx([1.0, 1.0, 0.6])


def test_benjamini_hochberg_hand_computed_and_scipy() -> None:
    # sorted: 0.005*4/1=0.02, 0.01*4/2=0.02, 0.03*4/3=0.04, 0.04*4/4=0.04; then running min
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "bh") == pytest.approx(
        [0.02, 0.04, 0.04, 0.02]
    )
    p = np.random.default_rng(2).uniform(0, 0.2, 12)
    assert adjust_p_values(p.tolist(), "bh") == pytest.approx(
        stats.false_discovery_control(p, method="bh").tolist()
    )


def test_holm_matches_written_out_formula_on_random_p() -> None:
    p = np.random.default_rng(4).uniform(0, 0.3, 9)
    order = np.argsort(p)
    m = p.size
    expected = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        expected[i] = running
    assert adjust_p_values(p.tolist(), "holm") == pytest.approx(expected.tolist())


def test_adjust_skips_missing_and_validates() -> None:
    assert adjust_p_values([0.01, None, 0.04], "holm") == pytest.approx([0.02, None, 0.04])
    assert adjust_p_values([0.01, None], "none") == [0.01, None]
    assert adjust_p_values([], "bh") == []
    with pytest.raises(ValueError, match="unknown p-value correction"):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(ValueError, match="out of range"):
        adjust_p_values([1.5], "holm")
