"""Regression gates: PASS / FAIL / INCONCLUSIVE for each criterion of each gate.

Notation, per comparison and metric: ``d = candidate - baseline`` (the paired mean difference
for score metrics), ``[L, U]`` its two-sided ``1 - α`` confidence interval, ``p`` the
multiplicity-adjusted p-value of the test of ``d = 0`` and ``MDE`` the minimum detectable
effect at the run's sample size. For a *relative* criterion the margin is ``r·|baseline|``.

Score metrics (from the paired comparison):

==========================  ===================  ==================================  =============
criterion (margin ``m``)    PASS                 FAIL                                otherwise
==========================  ===================  ==================================  =============
``max_drop``                ``L > -m``           ``U < -m``, or ``d < -m`` and ``p < α``  INCONCLUSIVE
``max_increase``            ``U < m``            ``L > m``, or ``d > m`` and ``p < α``    INCONCLUSIVE
``min_value`` ``v``         candidate ``≥ v``    candidate ``< v``
``max_value`` ``v``         candidate ``≤ v``    candidate ``> v``
==========================  ===================  ==================================  =============

A score criterion without a confidence interval (too few paired samples, non-numeric scores)
is INCONCLUSIVE. Run metrics (cost, tokens, latency, errors) have no sampling distribution
here, so their criteria compare the two values directly: ``max_drop`` passes when
``d ≥ -m``, ``max_increase`` when ``d ≤ m`` (these direct comparisons, and ``min_value``/
``max_value``, forgive float rounding); a value that was not recorded is INCONCLUSIVE.
An INCONCLUSIVE result reports the MDE and roughly how many samples would resolve it
(``n·(MDE/m)²``); it fails the check only when ``on_inconclusive: fail``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from inspect_mlflow._orchestrator._errors import ConfigError
from inspect_mlflow._orchestrator._schema import CheckSpec, Gate

if TYPE_CHECKING:
    from inspect_mlflow.comparison import CostComparison, MetricComparison, RunStats

Status = Literal["PASS", "FAIL", "INCONCLUSIVE"]

RUN_METRICS: dict[str, str] = {
    "cost/total_usd": "total_cost",
    "tokens/total": "total_tokens",
    "latency/sample/p50": "latency_p50",
    "latency/sample/p95": "latency_p95",
    "latency/p50": "latency_p50",
    "latency/p95": "latency_p95",
    "working_time/p50": "working_p50",
    "working_time/p95": "working_p95",
    "samples/errored": "errors",
}
"""Run-level metrics a gate can name (the task runs' MLflow metric names, plus the short
``latency/p50``/``latency/p95`` for per-sample total time) -> field of the comparison's
RunStats, computed from the two logs over the paired samples."""

_SCORE_SUFFIXES = ("accuracy", "mean")
"""``scorer/accuracy`` and ``scorer/mean`` name the scorer's mean score, which is what is compared."""


@dataclass
class GateResult:
    gate: int
    """Index of the gate in the spec."""
    comparison: str
    metric: str
    criterion: str
    threshold: float
    status: Status
    fails_check: bool
    """True for FAIL, and for INCONCLUSIVE under ``on_inconclusive: fail``."""
    message: str
    baseline: float | None = None
    candidate: float | None = None
    delta: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    p_adjusted: float | None = None
    mde: float | None = None
    n: int | None = None

    @property
    def title(self) -> str:
        return f"{self.metric} {self.criterion} {self.threshold:g}"


@dataclass
class ComparisonFacts:
    """What the gates of one comparison look at."""

    label: str
    metrics: list[MetricComparison]
    cost: CostComparison | None
    significance: float
    baseline_run_metrics: dict[str, float] = field(default_factory=dict)
    candidate_run_metrics: dict[str, float] = field(default_factory=dict)
    """MLflow metrics of the task runs, for run metrics the logs did not provide."""


def evaluate_gates(spec: CheckSpec, comparisons: Sequence[ComparisonFacts]) -> list[GateResult]:
    """Apply every gate to every comparison it names a metric of.

    Raises:
        ConfigError: a gate names a metric (not a glob) that no comparison has.
    """
    results: list[GateResult] = []
    for index, gate in enumerate(spec.gates):
        matched_any = False
        for facts in comparisons:
            for metric_name, metric, run_field in _targets(gate.metric, facts):
                matched_any = True
                for criterion, threshold in gate.criteria():
                    results.append(
                        _judge(index, gate, spec, facts, metric_name, metric, run_field,
                               criterion, threshold)
                    )  # fmt: skip
        if not matched_any and not _is_glob(gate.metric) and comparisons:
            available = sorted(
                {m.name for facts in comparisons for m in facts.metrics} | set(RUN_METRICS)
            )
            raise ConfigError(
                f"check.gates[{index}].metric: {gate.metric!r} is not a metric of "
                f"{'any comparison' if len(comparisons) > 1 else 'the comparison'}; "
                f"use one of {', '.join(available)} (or a glob such as '*')"
            )
    return results


def check_failed(results: Sequence[GateResult]) -> bool:
    return any(result.fails_check for result in results)


def verdict(results: Sequence[GateResult]) -> Status | None:
    """Overall verdict: FAIL if any gate fails the check, else INCONCLUSIVE if any is, else PASS."""
    if not results:
        return None
    if check_failed(results):
        return "FAIL"
    if any(result.status == "INCONCLUSIVE" for result in results):
        return "INCONCLUSIVE"
    return "PASS"


def _is_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def _targets(
    pattern: str, facts: ComparisonFacts
) -> list[tuple[str, MetricComparison | None, str | None]]:
    """The metrics of one comparison a gate applies to: (name, score metric, run-stats field)."""
    if pattern in RUN_METRICS:
        return [(pattern, None, RUN_METRICS[pattern])]
    by_name = {metric.name: metric for metric in facts.metrics}
    if pattern in by_name:
        return [(pattern, by_name[pattern], None)]
    scorer, _, suffix = pattern.rpartition("/")
    if scorer in by_name and suffix in _SCORE_SUFFIXES:
        return [(pattern, by_name[scorer], None)]
    if _is_glob(pattern):
        return [
            (metric.name, metric, None)
            for metric in facts.metrics
            if fnmatch.fnmatchcase(metric.name, pattern)
        ]
    return []


def _judge(
    index: int,
    gate: Gate,
    spec: CheckSpec,
    facts: ComparisonFacts,
    name: str,
    metric: MetricComparison | None,
    run_field: str | None,
    criterion: str,
    threshold: float,
) -> GateResult:
    alpha = facts.significance
    policy = gate.on_inconclusive or spec.on_inconclusive
    if metric is not None:
        base, cand, delta = metric.baseline_value, metric.candidate_value, metric.delta
        lo, hi, p, mde, n = (
            metric.ci_lower,
            metric.ci_upper,
            metric.p_adjusted,
            metric.mde,
            metric.n,
        )
        if p is None:
            p = metric.p_value
    else:
        base, cand = _run_values(facts.cost, run_field or "")
        if base is None:
            base = facts.baseline_run_metrics.get(name)
        if cand is None:
            cand = facts.candidate_run_metrics.get(name)
        delta = None if base is None or cand is None else cand - base
        lo = hi = p = mde = None
        n = None

    result = GateResult(
        gate=index, comparison=facts.label, metric=name, criterion=criterion,
        threshold=threshold, status="INCONCLUSIVE", fails_check=False, message="",
        baseline=base, candidate=cand, delta=delta, ci_lower=lo, ci_upper=hi,
        p_adjusted=p, mde=mde, n=n,
    )  # fmt: skip

    if criterion in ("min_value", "max_value"):
        if cand is None:
            return _finish(result, "INCONCLUSIVE", "no candidate value was recorded", policy)
        ok = _at_most(threshold, cand) if criterion == "min_value" else _at_most(cand, threshold)
        relation = ">=" if criterion == "min_value" else "<="
        return _finish(
            result,
            "PASS" if ok else "FAIL",
            f"candidate {cand:.4g} {'is' if ok else 'is not'} {relation} {threshold:g}",
            policy,
        )

    if base is None or delta is None:
        return _finish(result, "INCONCLUSIVE", "no value was recorded on both sides", policy)
    margin = threshold * abs(base) if criterion.endswith("_relative") else threshold
    lower_is_worse = criterion.startswith("max_drop")
    margin_text = (
        f"{margin:.4g} ({threshold:g} of the baseline {base:.4g})"
        if criterion.endswith("_relative")
        else f"{margin:.4g}"
    )

    if metric is None:  # run metric: compare the two values directly
        ok = _at_most(-margin, delta) if lower_is_worse else _at_most(delta, margin)
        change = "drop" if lower_is_worse else "increase"
        amount = -delta if lower_is_worse else delta
        return _finish(
            result,
            "PASS" if ok else "FAIL",
            f"{change} of {amount:.4g} {'within' if ok else 'exceeds'} the margin {margin_text} "
            f"(baseline {base:.4g}, candidate {cand:.4g})",
            policy,
        )

    if lo is None or hi is None:
        return _finish(
            result, "INCONCLUSIVE", f"no confidence interval ({metric.note or 'too few samples'})",
            policy,
        )  # fmt: skip
    level = f"{(1 - alpha) * 100:g}%"
    ci = f"{level} CI of the delta [{lo:.4g}, {hi:.4g}]"
    significant = p is not None and p < alpha
    if lower_is_worse:
        if lo > -margin:
            return _finish(result, "PASS", f"{ci} lies above -{margin_text}", policy)
        if hi < -margin:
            return _finish(result, "FAIL", f"{ci} lies below -{margin_text}", policy)
        if delta < -margin and significant:
            return _finish(
                result, "FAIL",
                f"drop {-delta:.4g} exceeds the margin {margin_text} and is significant "
                f"(p = {p:.3g}); {ci}",
                policy,
            )  # fmt: skip
    else:
        if hi < margin:
            return _finish(result, "PASS", f"{ci} lies below {margin_text}", policy)
        if lo > margin:
            return _finish(result, "FAIL", f"{ci} lies above {margin_text}", policy)
        if delta > margin and significant:
            return _finish(
                result, "FAIL",
                f"increase {delta:.4g} exceeds the margin {margin_text} and is significant "
                f"(p = {p:.3g}); {ci}",
                policy,
            )  # fmt: skip
    return _finish(result, "INCONCLUSIVE", _inconclusive_text(ci, margin, mde, n), policy)


def _at_most(value: float, limit: float) -> bool:
    """``value <= limit``, forgiving float rounding (1.1 - 1.0 is within a margin of 0.1)."""
    return value <= limit or math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def _inconclusive_text(ci: str, margin: float, mde: float | None, n: int | None) -> str:
    text = f"{ci} includes the margin {margin:.4g}: the run is too small to decide"
    if mde is not None and math.isfinite(mde):
        text += f"; minimum detectable effect {mde:.4g} at n={n}"
        if n and margin > 0 and mde > margin:
            needed = math.ceil(n * (mde / margin) ** 2)
            text += f" (about {needed} samples would detect {margin:.4g})"
    return text


def _finish(result: GateResult, status: Status, message: str, policy: str) -> GateResult:
    result.status = status
    result.message = message
    result.fails_check = status == "FAIL" or (status == "INCONCLUSIVE" and policy == "fail")
    return result


def _run_values(cost: CostComparison | None, field: str) -> tuple[float | None, float | None]:
    if cost is None:
        return None, None
    return _stat(cost.baseline, field), _stat(cost.candidate, field)


def _stat(stats: RunStats, field: str) -> float | None:
    value = getattr(stats, field, None)
    return None if value is None else float(value)
