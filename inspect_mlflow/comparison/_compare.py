"""``compare_evals``: baseline vs candidate on the same samples, with paired statistics."""

from __future__ import annotations

import inspect
import json
import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, fields
from typing import Any

from inspect_mlflow.comparison._align import (
    Alignment,
    MetricScores,
    align,
    epoch_rows,
    question_pairs,
)
from inspect_mlflow.comparison._load import (
    KeepSample,
    LoadedLog,
    LogInput,
    SampleRecord,
    complete_metadata,
    load_log,
    may_be_thinned,
)
from inspect_mlflow.comparison._stats import (
    CORRECTIONS,
    TestResult,
    adjust_p_values,
    binary_zero_discordance_se,
    clustered_t,
    cohens_dz,
    mcnemar_exact,
    minimum_detectable_effect,
    paired_bootstrap,
    paired_t,
    percentile,
)
from inspect_mlflow.comparison._types import (
    ComparisonError,
    ComparisonResult,
    CostComparison,
    MetricComparison,
    RunStats,
    SampleComparison,
)

SampleFilter = Callable[[Any], bool] | Collection[int | str]
"""A callable on the sample summary (or on the id, when its parameter is named ``id`` or
``sample_id``), or a collection of sample ids to keep."""

METHODS = ("auto", "t", "bootstrap")


@dataclass(frozen=True)
class CompareOptions:
    """Keyword options of :func:`compare_evals` beyond the named parameters."""

    correction: str = "holm"
    """Multiple-comparison adjustment across metrics: ``holm``, ``bh`` or ``none``."""
    cluster: str | None = None
    """Sample metadata key whose value identifies a cluster of non-independent samples."""
    method: str = "auto"
    """``auto`` (exact McNemar for binary scores, paired t otherwise), ``t`` or ``bootstrap``."""
    n_bootstrap: int = 10_000
    seed: int | None = 0
    """Bootstrap seed; the default makes repeated comparisons give identical results."""
    power: float = 0.8
    """Power for the minimum detectable effect."""
    allow_different_tasks: bool = False


def compare_evals(
    baseline: LogInput,
    candidate: LogInput,
    scorers: Sequence[str] | str | None = None,
    significance: float = 0.05,
    regression_threshold: float = 0.0,
    sample_filter: SampleFilter | None = None,
    **options: Any,
) -> ComparisonResult:
    """Compare a candidate eval run with a baseline on the samples they share.

    Samples are paired by id (``1`` and ``"1"`` match); epochs are averaged within each sample
    before pairing. Each metric (a scorer, or ``scorer/key`` for dict-valued scores) gets a
    paired test: exact McNemar for binary scores, a paired t-test otherwise (cluster-robust with
    ``cluster=``, or a paired bootstrap with ``method="bootstrap"``), a confidence interval
    for the mean difference, Cohen's d_z and the minimum detectable effect. p-values are
    adjusted across metrics (Holm by default) and ``significant`` uses the adjusted value.

    Args:
        baseline: Path of the baseline ``.eval``/``.json`` log, or an ``EvalLog``.
        candidate: Path of the candidate log, or an ``EvalLog``.
        scorers: Scorer (or ``scorer/key`` metric) names to compare; default all of them.
        significance: Level α of the tests (and 1 - α confidence intervals).
        regression_threshold: A sample or metric counts as regressed (improved) only when it
            drops (rises) by more than this.
        sample_filter: Keep only some samples, in both runs: a callable on the sample summary
            (or on the id, if its parameter is named ``id``), or a collection of ids. A sample
            rejected on either side is left out of both.
        **options: ``correction`` (``"holm"``, ``"bh"``, ``"none"``), ``cluster`` (metadata
            key), ``method`` (``"auto"``, ``"t"``, ``"bootstrap"``), ``n_bootstrap``, ``seed``,
            ``power`` and ``allow_different_tasks``.

    Raises:
        ComparisonError: a log is missing, unreadable or has no samples, the tasks differ,
            a scorer does not exist in both logs, or an option is invalid.
    """
    opts = _options(options)
    _check_arguments(significance, regression_threshold)
    keep = _predicate(sample_filter) if sample_filter is not None else None
    base = load_log(baseline, "baseline", keep, opts.cluster)
    cand = load_log(candidate, "candidate", keep, opts.cluster)
    if base.task != cand.task and not opts.allow_different_tasks:
        raise ComparisonError(
            f"the logs are of different tasks (baseline {base.task!r}, candidate {cand.task!r}); "
            "pass allow_different_tasks=True to compare them anyway"
        )
    filtered_out = _apply_filter(base, cand)
    alignment = align(base, cand)
    selected = _select_metrics(alignment, scorers, base, cand)
    clusters = _cluster_labels(base, cand, alignment, opts.cluster) if opts.cluster else None

    metrics: list[MetricComparison] = []
    questions: list[SampleComparison] = []
    samples: list[SampleComparison] = []
    for scores in selected:
        metric, rows = _compare_metric(
            scores, alignment, clusters, significance, regression_threshold, opts
        )
        metrics.append(metric)
        questions.extend(rows)
        samples.extend(epoch_rows(scores, alignment, regression_threshold))

    testable = [m for m in metrics if m.comparable and m.p_value is not None]
    for metric, adjusted in zip(
        testable, adjust_p_values([m.p_value for m in testable], opts.correction), strict=True
    ):
        metric.p_adjusted = adjusted
        metric.significant = adjusted is not None and adjusted < significance
    for metric in metrics:
        metric.verdict = _verdict(metric, regression_threshold)

    ids = alignment.ids
    return ComparisonResult(
        baseline_log=base.location,
        candidate_log=cand.location,
        baseline_task=base.task,
        candidate_task=cand.task,
        baseline_model=base.model,
        candidate_model=cand.model,
        metrics=metrics,
        samples=samples,
        questions=questions,
        aligned_ids=[ids[key] for key in alignment.aligned],
        missing_ids=[ids[key] for key in alignment.missing],
        new_ids=[ids[key] for key in alignment.new],
        cost=_cost(base, cand, set(alignment.aligned)),
        significance=significance,
        correction=opts.correction,
        method=opts.method,
        cluster=opts.cluster,
        regression_threshold=regression_threshold,
        baseline_epochs=base.epochs,
        candidate_epochs=cand.epochs,
        filtered_out=filtered_out,
    )


def _options(options: dict[str, Any]) -> CompareOptions:
    known = {f.name for f in fields(CompareOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ComparisonError(
            f"unknown option(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
        )
    opts = CompareOptions(**options)
    if opts.correction not in CORRECTIONS:
        raise ComparisonError(
            f"correction must be one of {', '.join(CORRECTIONS)}, not {opts.correction!r}"
        )
    if opts.method not in METHODS:
        raise ComparisonError(f"method must be one of {', '.join(METHODS)}, not {opts.method!r}")
    if not isinstance(opts.n_bootstrap, int) or opts.n_bootstrap < 100:
        raise ComparisonError(f"n_bootstrap must be an integer >= 100, not {opts.n_bootstrap!r}")
    if not 0.0 < opts.power < 1.0:
        raise ComparisonError(f"power must be between 0 and 1, not {opts.power!r}")
    if opts.cluster is not None and not (isinstance(opts.cluster, str) and opts.cluster):
        raise ComparisonError(f"cluster must be a metadata key, not {opts.cluster!r}")
    return opts


def _check_arguments(significance: float, regression_threshold: float) -> None:
    if not 0.0 < significance < 1.0:
        raise ComparisonError(f"significance must be between 0 and 1, not {significance!r}")
    if not regression_threshold >= 0.0:
        raise ComparisonError(f"regression_threshold must be >= 0, not {regression_threshold!r}")


def _apply_filter(base: LoadedLog, cand: LoadedLog) -> int:
    """Drop from both runs every sample id the filter rejected on either side; returns the count."""
    rejected = {r.key for log in (base, cand) for r in log.records if r.excluded}
    if not rejected:
        return 0
    for log in (base, cand):
        log.records = [r for r in log.records if r.key not in rejected]
        if not log.records:
            raise ComparisonError(f"no samples of the {log.role} log pass sample_filter")
    return len(rejected)


def _predicate(sample_filter: SampleFilter) -> KeepSample:
    if callable(sample_filter):
        try:
            parameters = list(inspect.signature(sample_filter).parameters)
        except (TypeError, ValueError):
            parameters = []
        if parameters and parameters[0] in ("id", "sample_id"):
            return lambda id, summary: bool(sample_filter(id))
        return lambda id, summary: bool(sample_filter(summary()))
    if isinstance(sample_filter, str | int):
        wanted = {str(sample_filter)}
    elif isinstance(sample_filter, Collection):
        wanted = {str(id) for id in sample_filter}
    else:
        raise ComparisonError(
            "sample_filter must be a callable or a collection of sample ids, "
            f"not {type(sample_filter).__name__}"
        )
    return lambda id, summary: str(id) in wanted


def _select_metrics(
    alignment: Alignment, scorers: Sequence[str] | str | None, base: LoadedLog, cand: LoadedLog
) -> list[MetricScores]:
    available = alignment.metrics
    if not available:
        raise ComparisonError(
            f"neither log has any scores (baseline {base.location}, candidate {cand.location})"
        )
    if scorers is None:
        return list(available.values())
    names = [scorers] if isinstance(scorers, str) else list(scorers)
    selected: dict[str, MetricScores] = {}
    for name in names:
        matches = [available[name]] if name in available else []
        matches = matches or [m for m in available.values() if m.scorer == name]
        if not matches:
            choices = sorted({m.scorer for m in available.values()} | set(available))
            raise ComparisonError(
                f"scorer {name!r} is not in either log; available: {', '.join(choices)}"
            )
        for scores in matches:
            for seen, log in ((scores.baseline_seen, base), (scores.candidate_seen, cand)):
                if not seen:
                    raise ComparisonError(
                        f"scorer {name!r} is not in the {log.role} log {log.location}"
                    )
            selected.setdefault(scores.name, scores)
    return list(selected.values())


def _cluster_labels(
    base: LoadedLog, cand: LoadedLog, alignment: Alignment, key: str
) -> dict[str, object]:
    """Cluster label of every aligned sample, from the metadata key (baseline's copy)."""
    first: dict[str, SampleRecord] = {}
    for log in (base, cand):
        for record in log.records:
            first.setdefault(record.key, record)
    thinned: dict[str, list[SampleRecord]] = {base.role: [], cand.role: []}
    owner = {id(r): log for log in (base, cand) for r in log.records}
    for sample_key in alignment.aligned:
        record = first[sample_key]
        value = record.metadata.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ComparisonError(
                f"cluster key {key!r} has no value in the metadata of sample {record.id!r} "
                f"({owner[id(record)].role} log)"
            )
        if may_be_thinned(record.metadata[key]):
            thinned[owner[id(record)].role].append(record)
    for log in (base, cand):
        complete_metadata(log, thinned[log.role], key)
    return {k: _hashable(first[k].metadata[key]) for k in alignment.aligned}


def _hashable(value: object) -> object:
    try:
        hash(value)
        return value
    except TypeError:
        return json.dumps(value, sort_keys=True, default=str)


def _compare_metric(
    scores: MetricScores,
    alignment: Alignment,
    clusters: dict[str, object] | None,
    alpha: float,
    threshold: float,
    opts: CompareOptions,
) -> tuple[MetricComparison, list[SampleComparison]]:
    pairs = question_pairs(scores, alignment, threshold)
    counts = Counter(row.direction for row in pairs.rows)
    metric = MetricComparison(
        name=scores.name,
        scorer=scores.scorer,
        baseline_value=None,
        candidate_value=None,
        delta=None,
        relative_delta=None,
        significant=False,
        p_value=None,
        ci_lower=None,
        ci_upper=None,
        n=len(pairs.keys),
        improved=counts["improved"],
        regressed=counts["regressed"],
        unchanged=counts["unchanged"],
        missing=counts["missing"],
        new=counts["new"],
        non_numeric=scores.non_numeric,
    )
    if not (scores.baseline_seen and scores.candidate_seen):
        metric.comparable = False
        metric.note = f"only in the {'baseline' if scores.baseline_seen else 'candidate'} log"
        return metric, pairs.rows
    if not pairs.keys:
        metric.comparable = False
        metric.note = (
            "scores are not numeric" if scores.non_numeric else "no sample is scored in both runs"
        )
        return metric, pairs.rows
    if scores.non_numeric:
        metric.note = f"{scores.non_numeric} non-numeric score value(s) left out"

    n = len(pairs.keys)
    baseline_value = sum(pairs.baseline) / n
    candidate_value = sum(pairs.candidate) / n
    differences = [c - b for b, c in zip(pairs.baseline, pairs.candidate, strict=True)]
    result, se_for_mde = _test(
        pairs.baseline, pairs.candidate, differences, pairs.keys, clusters, alpha, opts
    )

    metric.baseline_value = baseline_value
    metric.candidate_value = candidate_value
    metric.delta = candidate_value - baseline_value
    metric.relative_delta = metric.delta / abs(baseline_value) if baseline_value != 0 else None
    metric.p_value = result.p_value
    metric.ci_lower = result.ci_lower
    metric.ci_upper = result.ci_upper
    metric.test = result.test
    metric.standard_error = result.standard_error
    metric.df = result.df
    metric.clusters = result.clusters
    metric.effect_size = cohens_dz(differences)
    metric.mde = minimum_detectable_effect(se_for_mde, alpha, opts.power)
    return metric, pairs.rows


def _test(
    baseline: list[float],
    candidate: list[float],
    differences: list[float],
    keys: list[str],
    clusters: dict[str, object] | None,
    alpha: float,
    opts: CompareOptions,
) -> tuple[TestResult, float | None]:
    """Run the test the data and options call for; also return the SE to base the MDE on."""
    if clusters is not None:
        labels = [clusters[key] for key in keys]
        if opts.method == "bootstrap":
            result = paired_bootstrap(differences, alpha, opts.n_bootstrap, opts.seed, labels)
        else:
            result = clustered_t(differences, labels, alpha)
        return result, result.standard_error
    if opts.method == "bootstrap":
        result = paired_bootstrap(differences, alpha, opts.n_bootstrap, opts.seed)
        return result, result.standard_error
    binary = all(v in (0.0, 1.0) for v in baseline) and all(v in (0.0, 1.0) for v in candidate)
    if opts.method == "t" or not binary:
        result = paired_t(differences, alpha)
        return result, result.standard_error
    n01 = sum(1 for b, c in zip(baseline, candidate, strict=True) if b == 0.0 and c == 1.0)
    n10 = sum(1 for b, c in zip(baseline, candidate, strict=True) if b == 1.0 and c == 0.0)
    result = mcnemar_exact(n01, n10, len(differences), alpha)
    se = result.standard_error
    if n01 + n10 == 0:
        se = binary_zero_discordance_se(len(differences), alpha)
    return result, se


def _verdict(metric: MetricComparison, threshold: float) -> str:
    if not metric.comparable:
        return "not comparable"
    if metric.p_value is None or metric.delta is None:
        return "too few samples to test"
    if metric.significant:
        if metric.delta < -threshold:
            return "regressed"
        if metric.delta > threshold:
            return "improved"
        return "changed, within threshold"
    if threshold > 0.0 and (metric.mde is None or metric.mde > threshold):
        return "inconclusive: too few samples"
    return "no significant change"


def _cost(base: LoadedLog, cand: LoadedLog, aligned: set[str]) -> CostComparison:
    return CostComparison(
        baseline=_run_stats([r for r in base.records if r.key in aligned]),
        candidate=_run_stats([r for r in cand.records if r.key in aligned]),
    )


def _run_stats(records: list[SampleRecord]) -> RunStats:
    costs = [r.cost for r in records if r.cost is not None]
    total_times = [r.total_time for r in records if r.total_time is not None]
    working_times = [r.working_time for r in records if r.working_time is not None]
    return RunStats(
        samples=len(records),
        errors=sum(1 for r in records if r.error is not None),
        total_cost=math.fsum(costs) if costs else None,
        total_tokens=sum(r.tokens for r in records),
        latency_p50=percentile(total_times, 50),
        latency_p95=percentile(total_times, 95),
        working_p50=percentile(working_times, 50),
        working_p95=percentile(working_times, 95),
    )
