"""compare_evals on real Inspect logs; expected values come from the scenario's answer tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries
from scipy import stats

from inspect_mlflow.comparison import (
    ComparisonError,
    ComparisonResult,
    MetricComparison,
    compare_evals,
)
from tests.comparison.scenario import (
    BASELINE_CORRECT,
    BASELINE_QUALITY,
    CANDIDATE_CORRECT,
    CANDIDATE_QUALITY,
    COST,
    DOC,
    EPOCH_BASELINE,
    EPOCH_CANDIDATE,
    GROUP,
    TOKENS,
    Scenario,
)

PAIRED = list(range(1, 19))  # qa ids scored in both runs (19 errors in the candidate)
Z_SUM = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)


def qa(scenario: Scenario, **kwargs: object) -> ComparisonResult:
    return compare_evals(scenario.baseline.qa.location, scenario.candidate.qa.location, **kwargs)  # type: ignore[arg-type]


def expected_t(d: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, float]:
    """(p, ci_lower, ci_upper, se) of a paired t-test, written out."""
    n = d.size
    se = d.std(ddof=1) / math.sqrt(n)
    p = 2 * stats.t.sf(abs(d.mean() / se), n - 1)
    half = stats.t.ppf(1 - alpha / 2, n - 1) * se
    return p, d.mean() - half, d.mean() + half, se


def match_vectors(ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    base = np.array([1.0 if i in BASELINE_CORRECT else 0.0 for i in ids])
    cand = np.array([1.0 if i in CANDIDATE_CORRECT else 0.0 for i in ids])
    return base, cand


def quality_diffs(ids: list[int]) -> np.ndarray:
    return np.array([CANDIDATE_QUALITY[i] - BASELINE_QUALITY[i] for i in ids])


# --- alignment -------------------------------------------------------------------------


def test_alignment_counts_samples(scenario: Scenario) -> None:
    result = qa(scenario)
    assert result.aligned_count == 19  # ids 1..19 are in both logs (19 errored in the candidate)
    assert result.missing_ids == [20] and result.missing_count == 1
    assert result.new_ids == [21] and result.new_count == 1
    assert (result.baseline_task, result.candidate_task) == ("qa", "qa")
    assert result.baseline_model == result.candidate_model == "mockllm/model"
    match = result.metric("match")
    assert (match.n, match.missing, match.new) == (18, 2, 1)  # 19 unscored + 20; 21
    rows = {(r.id, r.scorer): r for r in result.questions}
    assert rows[(19, "match")].direction == "missing"
    assert rows[(20, "match")].direction == "missing"
    assert rows[(21, "match")].direction == "new"
    assert rows[(21, "match")].candidate_score == 1.0


def test_ids_align_by_string_value(scenario: Scenario) -> None:
    # baseline ids "1", "2", "3", "04"; candidate ids 1, 2, 3, 4
    result = compare_evals(scenario.baseline.ids.location, scenario.candidate.ids.location)
    assert result.aligned_ids == ["1", "2", "3"]
    assert result.missing_ids == ["04"]
    assert result.new_ids == [4]
    assert result.metric("match").n == 3


# --- binary scores: exact McNemar ------------------------------------------------------


def test_binary_scorer_uses_exact_mcnemar(scenario: Scenario) -> None:
    match = qa(scenario).metric("match")
    base, cand = match_vectors(PAIRED)
    n01 = int(((base == 0) & (cand == 1)).sum())
    n10 = int(((base == 1) & (cand == 0)).sum())
    assert (n01, n10) == (6, 4)
    assert match.test == "mcnemar-exact"
    assert match.baseline_value == pytest.approx(12 / 18)
    assert match.candidate_value == pytest.approx(14 / 18)
    assert match.delta == pytest.approx(2 / 18)
    assert match.relative_delta == pytest.approx((2 / 18) / (12 / 18))
    # two-sided exact binomial p on the 10 discordant pairs, by hand
    assert match.p_value == pytest.approx(2 * (210 + 120 + 45 + 10 + 1) / 1024)
    low = stats.beta.ppf(0.025, n01, n10 + 1)
    high = stats.beta.ppf(0.975, n01 + 1, n10)
    assert match.ci_lower == pytest.approx(10 / 18 * (2 * low - 1))
    assert match.ci_upper == pytest.approx(10 / 18 * (2 * high - 1))
    d = cand - base
    assert match.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert match.mde == pytest.approx(Z_SUM * d.std(ddof=1) / math.sqrt(18))
    assert (match.improved, match.regressed, match.unchanged) == (6, 4, 8)
    assert not match.significant and match.verdict == "no significant change"


def test_bool_dict_key_is_binary(scenario: Scenario) -> None:
    result = qa(scenario)
    ok = result.metric("parts/ok")
    assert ok.scorer == "parts" and ok.test == "mcnemar-exact"
    assert ok.p_value == pytest.approx(result.metric("match").p_value)


def test_significant_mcnemar_after_filter(scenario: Scenario) -> None:
    # without group g0 (ids 1-4) the 4 regressions go: 6 discordant pairs, all improvements
    result = qa(scenario, sample_filter=lambda s: s.metadata["group"] != "g0", correction="none")
    match = result.metric("match")
    assert result.filtered_out == 4
    assert result.aligned_count == 15
    assert match.n == 14
    assert match.p_value == pytest.approx(2 / 2**6)
    assert match.p_adjusted == match.p_value
    assert match.ci_lower is not None and match.ci_lower > 0
    assert match.significant and match.verdict == "improved"
    assert match.baseline_value == pytest.approx(8 / 14)


# --- continuous scores: paired t, clusters, bootstrap ----------------------------------


def test_numeric_scorer_uses_paired_t(scenario: Scenario) -> None:
    quality = qa(scenario).metric("quality")
    d = quality_diffs(PAIRED)
    p, low, high, se = expected_t(d)
    assert quality.test == "paired-t" and quality.df == 17
    assert quality.delta == pytest.approx(d.mean())
    assert quality.baseline_value == pytest.approx(np.mean([BASELINE_QUALITY[i] for i in PAIRED]))
    assert quality.p_value == pytest.approx(p)
    assert (quality.ci_lower, quality.ci_upper) == (pytest.approx(low), pytest.approx(high))
    assert quality.standard_error == pytest.approx(se)
    assert quality.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert quality.mde == pytest.approx(Z_SUM * se)
    assert quality.significant and quality.verdict == "improved"


def test_clustered_standard_errors(scenario: Scenario) -> None:
    quality = qa(scenario, cluster="group").metric("quality")
    d = quality_diffs(PAIRED)
    labels = [GROUP[i] for i in PAIRED]
    groups = sorted(set(labels))
    total = sum(
        (sum(d[k] for k, g in enumerate(labels) if g == group) - labels.count(group) * d.mean())
        ** 2
        for group in groups
    )
    g = len(groups)
    se = math.sqrt(g / (g - 1) * total) / d.size
    assert quality.test == "clustered-t" and quality.clusters == g == 5
    assert quality.standard_error == pytest.approx(se)
    assert quality.df == g - 1
    assert quality.p_value == pytest.approx(2 * stats.t.sf(abs(d.mean() / se), g - 1))
    half = stats.t.ppf(0.975, g - 1) * se
    assert quality.ci_lower == pytest.approx(d.mean() - half)
    assert quality.mde == pytest.approx(Z_SUM * se)


def test_cluster_key_thinned_in_summaries_is_read_in_full(scenario: Scenario) -> None:
    # premise: Inspect's summaries cut the long "doc" values, so all four docs look alike
    summaries = read_eval_log_sample_summaries(scenario.baseline.qa.location)
    assert {s.metadata["doc"] for s in summaries} != {DOC[i] for i in range(1, 21)}
    assert len({s.metadata["doc"] for s in summaries}) == 1
    for baseline in (scenario.baseline.qa.location, str(scenario.qa_json)):
        result = compare_evals(baseline, scenario.candidate.qa.location, cluster="doc")
        quality = result.metric("quality")
        assert quality.clusters == 4
        d = quality_diffs(PAIRED)
        labels = [DOC[i] for i in PAIRED]
        total = sum(
            (sum(d[k] for k, g in enumerate(labels) if g == doc) - labels.count(doc) * d.mean())
            ** 2
            for doc in set(labels)
        )
        assert quality.standard_error == pytest.approx(math.sqrt(4 / 3 * total) / d.size)


def test_cluster_key_missing_is_an_error(scenario: Scenario) -> None:
    with pytest.raises(ComparisonError, match="cluster key 'nope' has no value"):
        qa(scenario, cluster="nope")


def test_paired_bootstrap_option(scenario: Scenario) -> None:
    quality = qa(scenario, method="bootstrap", n_bootstrap=4000, seed=3).metric("quality")
    d = quality_diffs(PAIRED)
    idx = np.random.default_rng(3).integers(0, d.size, size=(4000, d.size))
    means = d[idx].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    assert quality.test == "paired-bootstrap"
    assert (quality.ci_lower, quality.ci_upper) == (pytest.approx(low), pytest.approx(high))
    assert quality.standard_error == pytest.approx(means.std(ddof=1))
    # binary scores are bootstrapped too when asked
    assert qa(scenario, method="bootstrap", n_bootstrap=500).metric("match").test == (
        "paired-bootstrap"
    )


def test_method_t_forces_t_on_binary(scenario: Scenario) -> None:
    match = qa(scenario, method="t").metric("match")
    base, cand = match_vectors(PAIRED)
    p, *_ = expected_t(cand - base)
    assert match.test == "paired-t" and match.p_value == pytest.approx(p)


# --- epochs ------------------------------------------------------------------------------


def test_epochs_are_averaged_per_question(scenario: Scenario) -> None:
    result = compare_evals(
        scenario.baseline.qa_epochs.location, scenario.candidate.qa_epochs.location
    )
    assert (result.baseline_epochs, result.candidate_epochs) == (3, 3)
    assert result.aligned_count == 8
    match = result.metric("match")
    base = np.array([np.mean(EPOCH_BASELINE[i]) for i in range(1, 9)])
    cand = np.array([np.mean(EPOCH_CANDIDATE[i]) for i in range(1, 9)])
    d = cand - base
    p, low, high, se = expected_t(d)
    # averages such as 2/3 are not binary: the continuous test, on 8 questions (not 24 rows)
    assert match.test == "paired-t" and match.n == 8 and match.df == 7
    assert match.p_value == pytest.approx(p)
    assert (match.ci_lower, match.ci_upper) == (pytest.approx(low), pytest.approx(high))
    assert match.baseline_value == pytest.approx(base.mean())
    # epoch-averaged rows drive the counts; per-epoch rows are all reported
    assert len(result.questions) == 8 and len(result.samples) == 24
    expected_improved = int((d > 0).sum())
    assert match.improved == expected_improved == len(result.improvements)
    rows = {(r.id, r.epoch): r for r in result.samples}
    assert rows[(2, 3)].direction == "improved"  # 0 -> 1 in epoch 3
    assert rows[(5, 2)].direction == "regressed"  # 1 -> 0 in epoch 2
    assert rows[(1, 1)].direction == "unchanged"
    assert {r.epoch for r in result.questions} == {None}
    q2 = next(r for r in result.questions if r.id == 2)
    assert (q2.baseline_score, q2.candidate_score) == (pytest.approx(2 / 3), 1.0)


# --- multiple comparisons --------------------------------------------------------------


def _expected_raw_p() -> dict[str, float]:
    base, cand = match_vectors(PAIRED)
    mcnemar = 2 * (210 + 120 + 45 + 10 + 1) / 1024
    chars_base = np.array([len(str(i)) if i in BASELINE_CORRECT else 5 for i in PAIRED], float)
    chars_cand = np.array([len(str(i)) if i in CANDIDATE_CORRECT else 5 for i in PAIRED], float)
    return {
        "match": mcnemar,
        "quality": expected_t(quality_diffs(PAIRED))[0],
        "parts/ok": mcnemar,
        "parts/chars": expected_t(chars_cand - chars_base)[0],
    }


def test_holm_adjustment_across_metrics(scenario: Scenario) -> None:
    result = qa(scenario)
    raw = _expected_raw_p()
    names = list(raw)
    p = np.array([raw[n] for n in names])
    order = np.argsort(p, kind="stable")
    holm = np.empty(p.size)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        holm[i] = running
    for name, adjusted in zip(names, holm, strict=True):
        metric = result.metric(name)
        assert metric.p_value == pytest.approx(raw[name])
        assert metric.p_adjusted == pytest.approx(adjusted)
        assert metric.significant == (adjusted < 0.05)
    assert result.metric("label").p_adjusted is None  # not comparable: not in the family


def test_bh_and_none_corrections(scenario: Scenario) -> None:
    raw = _expected_raw_p()
    names = list(raw)
    p = np.array([raw[n] for n in names])
    m = p.size
    order = np.argsort(p, kind="stable")
    bh = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, min(1.0, m / (rank + 1) * p[i]))
        bh[i] = running
    result = qa(scenario, correction="bh")
    assert [result.metric(n).p_adjusted for n in names] == pytest.approx(bh.tolist())
    result = qa(scenario, correction="none")
    assert [result.metric(n).p_adjusted for n in names] == pytest.approx(p.tolist())


def test_scorers_selects_metrics_and_family(scenario: Scenario) -> None:
    result = qa(scenario, scorers=["quality"])
    assert [m.name for m in result.metrics] == ["quality"]
    quality = result.metric("quality")
    assert quality.p_adjusted == pytest.approx(quality.p_value)  # a family of one
    assert {r.scorer for r in result.samples} == {"quality"}
    parts = qa(scenario, scorers="parts")  # a dict scorer selects all its keys
    assert [m.name for m in parts.metrics] == ["parts/ok", "parts/chars", "parts/tag"]


# --- non-numeric and dict-valued scores ------------------------------------------------


def test_non_numeric_scores_are_not_comparable(scenario: Scenario) -> None:
    result = qa(scenario)
    for name in ("label", "parts/tag"):
        metric = result.metric(name)
        assert not metric.comparable and metric.verdict == "not comparable"
        assert metric.non_numeric == 20 + 19  # every scored sample on both sides
        assert metric.p_value is None and metric.delta is None
        assert metric.unchanged == 0
    assert not [r for r in result.samples if r.scorer in ("label", "parts/tag")]
    assert "not comparable" in result.summary()
    chars = result.metric("parts/chars")
    assert chars.comparable and chars.test == "paired-t" and chars.scorer == "parts"


# --- thresholds, directions, win rate --------------------------------------------------


def test_regression_threshold(scenario: Scenario) -> None:
    result = qa(scenario, regression_threshold=0.1)
    quality = result.metric("quality")
    d = quality_diffs(PAIRED)
    assert quality.improved == int((d > 0.1).sum())
    assert quality.unchanged == int((np.abs(d) <= 0.1).sum())
    assert quality.regressed == 0
    assert quality.verdict == "improved"  # significant and delta > threshold
    match = result.metric("match")
    assert (match.improved, match.regressed) == (6, 4)  # ±1 moves exceed 0.1
    big = qa(scenario, regression_threshold=1.0).metric("match")
    assert (big.improved, big.regressed, big.unchanged) == (0, 0, 18)
    assert big.mde is not None and big.mde < 1.0
    assert big.verdict == "no significant change"


def test_threshold_verdicts_use_the_mde(scenario: Scenario) -> None:
    # not significant; the MDE (~0.50) is larger than 0.05, so no regression cannot be claimed
    match = qa(scenario, regression_threshold=0.05).metric("match")
    assert match.mde is not None and match.mde > 0.05
    assert match.verdict == "inconclusive: too few samples"
    # but it is smaller than 0.6: the run could have seen a drop that large
    match = qa(scenario, regression_threshold=0.6).metric("match")
    assert match.mde is not None and match.mde < 0.6
    assert match.verdict == "no significant change"


def test_regressions_and_win_rate_count_samples(scenario: Scenario) -> None:
    result = qa(scenario, scorers=["match", "quality"])
    # quality rose on every paired question; match regressed on 1-4 and rose on 13-18
    assert sorted(result.regressed_ids) == [1, 2, 3, 4]
    assert sorted(result.improved_ids) == list(range(1, 19))
    wins, losses = result.wins_losses()
    assert (wins, losses) == (14, 0)  # 1-4 are mixed: ties
    assert result.win_rate == 1.0
    assert len(result.regressions) == 4  # epoch-averaged rows
    swapped = compare_evals(
        scenario.candidate.qa.location, scenario.baseline.qa.location, scorers=["quality"]
    )
    assert swapped.win_rate == 0.0
    assert swapped.metric("quality").verdict == "regressed"


def test_sample_filter_forms(scenario: Scenario) -> None:
    by_id = qa(scenario, sample_filter=lambda id: int(id) <= 10)
    assert by_id.aligned_count == 10 and by_id.new_count == 0 and by_id.missing_count == 0
    base, cand = match_vectors(list(range(1, 11)))
    assert by_id.metric("match").delta == pytest.approx((cand - base).mean())
    collection = qa(scenario, sample_filter={1, "2", 3})
    assert collection.aligned_ids == [1, 2, 3]
    assert collection.cost is not None and collection.cost.baseline.samples == 3
    with pytest.raises(ComparisonError, match="no samples of the baseline log pass"):
        qa(scenario, sample_filter=lambda s: False)


# --- cost and latency ------------------------------------------------------------------


def test_cost_tokens_and_latency(scenario: Scenario) -> None:
    result = qa(scenario)
    assert result.cost is not None
    base, cand = result.cost.baseline, result.cost.candidate
    assert base.samples == 19 and cand.samples == 19
    assert cand.errors == 1 and base.errors == 0
    assert base.total_cost == pytest.approx(19 * COST["baseline"])
    assert cand.total_cost == pytest.approx(18 * COST["candidate"])  # the error used no model
    assert base.total_tokens == 19 * sum(TOKENS["baseline"])
    assert cand.total_tokens == 18 * sum(TOKENS["candidate"])
    assert result.cost.cost_delta == pytest.approx(18 * 0.0025 - 19 * 0.001)
    for side, log in ((base, scenario.baseline.qa), (cand, scenario.candidate.qa)):
        times = [
            s.total_time
            for s in read_eval_log_sample_summaries(log.location)
            if int(s.id) <= 19 and s.total_time is not None
        ]
        assert side.latency_p50 == pytest.approx(np.percentile(times, 50))
        assert side.latency_p95 == pytest.approx(np.percentile(times, 95))
    assert result.cost.latency_p95_delta == pytest.approx(cand.latency_p95 - base.latency_p95)  # type: ignore[operator]


# --- inputs ------------------------------------------------------------------------------


def _metric_view(metric: MetricComparison) -> tuple[object, ...]:
    return (metric.name, metric.n, metric.delta, metric.p_value, metric.ci_lower, metric.test)


def test_eval_log_objects_and_json_logs_give_the_same_result(scenario: Scenario) -> None:
    from_paths = qa(scenario)
    in_memory = compare_evals(scenario.baseline.qa, scenario.candidate.qa)
    header_only = compare_evals(
        read_eval_log(scenario.baseline.qa.location, header_only=True),
        Path(scenario.candidate.qa.location),
    )
    from_json = compare_evals(str(scenario.qa_json), scenario.candidate.qa.location)
    for other in (in_memory, header_only, from_json):
        assert [_metric_view(m) for m in other.metrics] == [
            _metric_view(m) for m in from_paths.metrics
        ]
        assert other.aligned_ids == from_paths.aligned_ids


# --- bad input ---------------------------------------------------------------------------


def test_errors_name_the_problem(scenario: Scenario, tmp_path: Path) -> None:
    base, cand = scenario.baseline.qa.location, scenario.candidate.qa.location
    with pytest.raises(ComparisonError, match="baseline log not found: .*nope.eval"):
        compare_evals(tmp_path / "nope.eval", cand)
    with pytest.raises(ComparisonError, match="has no samples"):
        compare_evals(base, scenario.empty)
    with pytest.raises(ComparisonError, match="different tasks.*'qa'.*'ids'"):
        compare_evals(base, scenario.candidate.ids.location)
    with pytest.raises(ComparisonError, match="scorer 'nope' is not in either log"):
        compare_evals(base, cand, scorers=["nope"])
    with pytest.raises(ComparisonError, match="scorer 'quality' is not in the candidate log"):
        compare_evals(
            base, scenario.candidate.ids.location, scorers=["quality"], allow_different_tasks=True
        )
    with pytest.raises(ComparisonError, match="unknown option"):
        compare_evals(base, cand, corection="bh")
    with pytest.raises(ComparisonError, match="correction must be one of"):
        compare_evals(base, cand, correction="bonferroni")
    with pytest.raises(ComparisonError, match="significance"):
        compare_evals(base, cand, significance=1.5)
    garbage = tmp_path / "garbage.eval"
    garbage.write_text("not a zip")
    with pytest.raises(ComparisonError, match="cannot read baseline log"):
        compare_evals(garbage, cand)
    assert issubclass(ComparisonError, ValueError)


def test_different_tasks_allowed_on_request(scenario: Scenario) -> None:
    result = compare_evals(
        scenario.baseline.qa.location,
        scenario.candidate.ids.location,
        scorers=["match"],
        allow_different_tasks=True,
    )
    assert (result.baseline_task, result.candidate_task) == ("qa", "ids")
    assert result.aligned_ids == [1, 2, 3, 4]


def test_ids_that_collide_are_an_error(scenario: Scenario) -> None:
    samples = list(scenario.baseline.ids.samples or [])
    clash = samples[0].model_copy(update={"id": 1})  # "1" and 1 in one log
    log = scenario.baseline.ids.model_copy(update={"samples": [*samples, clash]})
    with pytest.raises(ComparisonError, match="two samples with id '1'"):
        compare_evals(log, scenario.candidate.ids)


# --- output ------------------------------------------------------------------------------


def test_summary_is_one_screen(scenario: Scenario) -> None:
    text = qa(scenario).summary()
    lines = text.splitlines()
    assert len(lines) <= 30 and max(len(line) for line in lines) <= 200
    assert "Samples: 19 aligned, 1 missing from candidate, 1 new in candidate" in text
    assert "Holm-adjusted p" in text
    header = next(line for line in lines if line.startswith("metric"))
    for column in ("delta", "95% CI", "p (adj)", "d_z", "MDE", "verdict"):
        assert column in header
    quality_line = next(line for line in lines if line.startswith("quality "))
    assert "paired-t" in quality_line and "improved" in quality_line
    # parts/chars fell where answers became right ("wrong" is longer than "13"): mixed samples
    assert "10 regressed and 18 improved on some metric; win rate 100.0% (8 of 8 decisive)" in text
    assert "  regressed: 1, 2, 3, 4, 13, 14, 15, 16, 17, 18" in text
    assert "  improved : 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... (18 in all)" in text
    assert "Cost:    $0.0190 -> $0.0450" in text
    assert "Latency: p50" in text and "Errors:  0 -> 1 samples" in text


def test_to_dict_and_json(scenario: Scenario, tmp_path: Path) -> None:
    result = qa(scenario)
    data = result.to_dict()
    assert data["counts"]["aligned"] == 19 and data["win_rate"] == result.win_rate
    assert data["metrics"][0]["name"] == "match"
    assert data["cost"]["deltas"]["total_cost"] == pytest.approx(result.cost.cost_delta)  # type: ignore[union-attr]
    path = tmp_path / "result.json"
    text = result.to_json(path)
    loaded = json.loads(path.read_text())
    assert loaded == json.loads(text)
    assert loaded["metrics"][1]["p_value"] == pytest.approx(result.metric("quality").p_value)


def test_effect_size_when_all_differences_are_equal(scenario: Scenario) -> None:
    same = compare_evals(scenario.baseline.ids.location, scenario.baseline.ids.location)
    match = same.metric("match")
    assert match.effect_size == 0.0  # every difference 0
    assert (match.p_value, match.ci_lower, match.ci_upper) == (1.0, 0.0, 0.0)
    # no discordant pairs: the MDE comes from the upper bound on the discordance rate
    rate = 1 - 0.05 ** (1 / 4)
    assert match.mde == pytest.approx(Z_SUM * math.sqrt(rate / 4))
    assert match.verdict == "no significant change"
    up = qa(scenario, sample_filter=[13, 14, 15])  # all three went 0 -> 1 on match
    assert up.metric("match").effect_size == math.inf
    assert json.loads(up.to_json())["metrics"][0]["effect_size"] == "inf"


def test_plot_writes_png(scenario: Scenario, tmp_path: Path) -> None:
    path = qa(scenario, regression_threshold=0.05).plot(tmp_path / "plots" / "delta.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5_000
