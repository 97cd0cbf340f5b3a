"""Run the comparisons of a sweep (or of ``check``) and correct p-values across all of them.

Each pair is compared with ``compare_evals`` without correction; the p-values of every metric
of every comparison are then adjusted together (``compare.correction``), so a sweep of many
candidates does not multiply its false alarms. No MLflow here: write-back is separate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inspect_mlflow._orchestrator._checks import (
    ComparisonFacts,
    GateResult,
    evaluate_gates,
    verdict,
)
from inspect_mlflow._orchestrator._schema import CheckSpec, CompareSpec

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

    from inspect_mlflow.comparison import ComparisonResult


@dataclass
class Side:
    """One side of a comparison: its log and what identifies it."""

    log: str | EvalLog
    label: str
    run_id: str | None = None
    eval_id: str | None = None
    point_key: str | None = None
    short: str | None = None
    """The label reduced to what differs from the other side (for run names)."""
    context: str | None = None
    """Grid axes both sides share that tell this comparison from the sweep's others."""
    metrics: dict[str, float] | None = None
    """Run metrics recorded in MLflow, used for run-metric gates when the log lacks them."""


@dataclass(frozen=True)
class MetricRow:
    """What reports show of one compared metric (plain data: no statistics imports needed)."""

    name: str
    baseline_value: float | None
    candidate_value: float | None
    delta: float | None
    ci_lower: float | None
    ci_upper: float | None
    p_adjusted: float | None
    verdict: str


@dataclass
class ComparisonOutcome:
    baseline: Side
    candidate: Side
    result: ComparisonResult | None = None
    """The full result (``None`` once :meth:`detached`, or when the comparison failed)."""
    error: str | None = None
    compared: bool = False
    task: str | None = None
    rows: list[MetricRow] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    run_id: str | None = None
    """The comparison's MLflow run (set by the write-back)."""
    problems: list[str] = field(default_factory=list)
    """What the write-back could not do (the comparison itself stands)."""

    @property
    def label(self) -> str:
        return f"{self.candidate.label} vs {self.baseline.label}"

    def detached(self) -> ComparisonOutcome:
        """A copy without the full result, cheap to send between processes."""
        return dataclasses.replace(self, result=None)

    @property
    def title(self) -> str:
        """Short name: ``<task>: <candidate> vs <baseline>`` on the axes that differ."""
        task = self.task or ""
        cand = self.candidate.short or self.candidate.label
        base = self.baseline.short or self.baseline.label
        text = f"{task}: {cand} vs {base}" if task else f"{cand} vs {base}"
        return f"{text} ({self.candidate.context})" if self.candidate.context else text

    @property
    def verdict(self) -> str:
        """Overall direction over the metrics: regressed, improved, mixed or no significant change."""
        if not self.compared:
            return "error"
        verdicts = {row.verdict for row in self.rows}
        if "regressed" in verdicts and "improved" in verdicts:
            return "mixed"
        for name in ("regressed", "improved"):
            if name in verdicts:
                return name
        if verdicts and all(
            v.startswith(("inconclusive", "too few", "not comparable")) for v in verdicts
        ):
            return "inconclusive"
        return "no significant change"

    @property
    def check_verdict(self) -> str | None:
        return verdict(self.gates)


def compare_pairs(
    pairs: Sequence[tuple[Side, Side]],
    spec: CompareSpec,
    check: CheckSpec | None = None,
    allow_different_tasks: bool = False,
) -> list[ComparisonOutcome]:
    """Compare each (baseline, candidate) pair, correct across all, then apply the gates.

    A pair that cannot be compared (e.g. no samples in common) gets ``error`` set; the others
    still run.

    Raises:
        ConfigError: a gate names a metric no comparison has.
    """
    from inspect_mlflow.comparison import ComparisonError, adjust_p_values, compare_evals
    from inspect_mlflow.comparison._compare import _verdict

    significance = (
        check.significance if check and check.significance else None
    ) or spec.significance
    correction = (check.correction if check and check.correction else None) or spec.correction
    options: dict[str, Any] = {"correction": "none", "method": spec.method}
    if spec.cluster:
        options["cluster"] = spec.cluster
    if allow_different_tasks:
        options["allow_different_tasks"] = True

    outcomes: list[ComparisonOutcome] = []
    for baseline, candidate in pairs:
        outcome = ComparisonOutcome(baseline, candidate)
        try:
            outcome.result = compare_evals(
                baseline.log,
                candidate.log,
                scorers=spec.scorers,
                significance=significance,
                regression_threshold=spec.regression_threshold,
                **options,
            )
            outcome.result.correction = correction
        except ComparisonError as ex:
            outcome.error = str(ex)
        outcomes.append(outcome)

    tested = [
        metric
        for outcome in outcomes
        if outcome.result is not None
        for metric in outcome.result.metrics
        if metric.comparable and metric.p_value is not None
    ]
    adjusted = adjust_p_values([metric.p_value for metric in tested], correction)
    for metric, p_adjusted in zip(tested, adjusted, strict=True):
        metric.p_adjusted = p_adjusted
        metric.significant = p_adjusted is not None and p_adjusted < significance
    for outcome in outcomes:
        if outcome.result is not None:
            for metric in outcome.result.metrics:
                metric.verdict = _verdict(metric, spec.regression_threshold)
            outcome.compared = True
            outcome.task = outcome.result.baseline_task
            outcome.rows = [
                MetricRow(
                    m.name,
                    m.baseline_value,
                    m.candidate_value,
                    m.delta,
                    m.ci_lower,
                    m.ci_upper,
                    m.p_adjusted,
                    m.verdict,
                )  # fmt: skip
                for m in outcome.result.metrics
            ]

    if check is not None and check.gates:
        facts = [
            ComparisonFacts(
                outcome.label,
                outcome.result.metrics,
                outcome.result.cost,
                significance,
                outcome.baseline.metrics or {},
                outcome.candidate.metrics or {},
            )  # fmt: skip
            for outcome in outcomes
            if outcome.result is not None
        ]
        results = evaluate_gates(check, facts)
        for outcome in outcomes:
            outcome.gates = [result for result in results if result.comparison == outcome.label]
    return outcomes
