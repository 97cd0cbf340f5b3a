"""The gate rules (documented in ``_checks``) at and around their boundaries, and the reports."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from inspect_mlflow._orchestrator._checks import ComparisonFacts, evaluate_gates, verdict
from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome, Side
from inspect_mlflow._orchestrator._errors import ConfigError
from inspect_mlflow._orchestrator._report import junit_xml, markdown
from inspect_mlflow._orchestrator._schema import CheckSpec
from inspect_mlflow.comparison import CostComparison, MetricComparison, RunStats


def metric(
    delta: float,
    lo: float | None,
    hi: float | None,
    p: float | None = 0.5,
    base: float = 0.8,
    mde: float = 0.2,
    n: int = 50,
) -> MetricComparison:
    return MetricComparison(
        name="match", scorer="match", baseline_value=base, candidate_value=base + delta, delta=delta,
        relative_delta=delta / base, significant=p is not None and p < 0.05, p_value=p,
        ci_lower=lo, ci_upper=hi, p_adjusted=p, mde=mde, n=n,
    )  # fmt: skip


def facts(
    m: MetricComparison, cost: tuple[float | None, float | None] = (1.0, 1.0)
) -> ComparisonFacts:
    stats = CostComparison(
        RunStats(total_cost=cost[0], latency_p95=2.0), RunStats(total_cost=cost[1], latency_p95=2.5)
    )
    return ComparisonFacts("cand vs base", [m], stats, 0.05)


def judge(gate: dict[str, Any], m: MetricComparison, **spec: Any) -> list[tuple[str, bool]]:
    results = evaluate_gates(CheckSpec(gates=[gate], **spec), [facts(m)])
    return [(r.status, r.fails_check) for r in results]


@pytest.mark.parametrize(
    ("delta", "lo", "hi", "p", "expected"),
    [
        (0.0, -0.049, 0.05, 1.0, "PASS"),  # L > -m
        (0.0, -0.05, 0.05, 1.0, "INCONCLUSIVE"),  # L = -m: not shown
        (-0.2, -0.3, -0.051, 0.001, "FAIL"),  # U < -m
        (-0.08, -0.15, -0.01, 0.01, "FAIL"),  # d < -m and significant, though U > -m
        (-0.08, -0.2, 0.04, 0.2, "INCONCLUSIVE"),  # d < -m but not significant
        (-0.03, -0.12, 0.06, 0.5, "INCONCLUSIVE"),
        (0.1, None, None, None, "INCONCLUSIVE"),  # no interval
    ],
)
def test_max_drop_non_inferiority(
    delta: float, lo: float | None, hi: float | None, p: float | None, expected: str
) -> None:
    assert judge({"metric": "match", "max_drop": 0.05}, metric(delta, lo, hi, p)) == [
        (expected, expected == "FAIL")
    ]


@pytest.mark.parametrize(
    ("delta", "lo", "hi", "p", "expected"),
    [
        (0.0, -0.05, 0.049, 1.0, "PASS"),
        (0.2, 0.051, 0.3, 0.001, "FAIL"),
        (0.08, 0.01, 0.15, 0.01, "FAIL"),
        (0.02, -0.05, 0.09, 0.5, "INCONCLUSIVE"),
    ],
)
def test_max_increase_mirrors_max_drop(
    delta: float, lo: float, hi: float, p: float, expected: str
) -> None:
    assert (
        judge({"metric": "match", "max_increase": 0.05}, metric(delta, lo, hi, p))[0][0] == expected
    )


def test_relative_margin_is_a_fraction_of_the_baseline() -> None:
    # base 0.8: max_drop_relative 0.1 -> margin 0.08
    assert (
        judge({"metric": "match", "max_drop_relative": 0.1}, metric(0.0, -0.079, 0.05))[0][0]
        == "PASS"
    )
    assert (
        judge({"metric": "match", "max_drop_relative": 0.1}, metric(0.0, -0.081, 0.05))[0][0]
        == "INCONCLUSIVE"
    )


def test_floor_and_ceiling_use_the_candidate_value() -> None:
    m = metric(-0.1, -0.2, 0.0)  # candidate 0.7
    assert judge({"metric": "match/accuracy", "min_value": 0.7, "max_value": 0.69}, m) == [
        ("PASS", False),
        ("FAIL", True),
    ]


def test_inconclusive_fails_only_when_the_spec_or_gate_says_so() -> None:
    m = metric(-0.03, -0.12, 0.06)
    assert judge({"metric": "match", "max_drop": 0.05}, m) == [("INCONCLUSIVE", False)]
    assert judge({"metric": "match", "max_drop": 0.05}, m, on_inconclusive="fail") == [
        ("INCONCLUSIVE", True)
    ]
    assert judge({"metric": "match", "max_drop": 0.05, "on_inconclusive": "fail"}, m) == [
        ("INCONCLUSIVE", True)
    ]
    result = evaluate_gates(CheckSpec(gates=[{"metric": "match", "max_drop": 0.05}]), [facts(m)])[0]
    # MDE 0.2 at n=50 -> about 50 * (0.2 / 0.05)^2 = 800 samples would resolve it
    assert result.message == (
        "95% CI of the delta [-0.12, 0.06] includes the margin 0.05: the run is too small to decide; "
        "minimum detectable effect 0.2 at n=50 (about 800 samples would detect 0.05)"
    )


def test_run_metrics_compare_values_directly() -> None:
    m = metric(0.0, -0.01, 0.01)
    spec = CheckSpec(gates=[
        {"metric": "cost/total_usd", "max_increase_relative": 0.1},
        {"metric": "latency/sample/p95", "max_increase_relative": 0.2, "max_increase": 0.5},
    ])  # fmt: skip
    results = evaluate_gates(spec, [facts(m, cost=(1.0, 1.1))])
    assert [(r.metric, r.criterion, r.status) for r in results] == [
        ("cost/total_usd", "max_increase_relative", "PASS"),  # +10% is within 10%
        ("latency/sample/p95", "max_increase", "PASS"),
        ("latency/sample/p95", "max_increase_relative", "FAIL"),  # 2.0 -> 2.5 is +25%
    ]
    missing = evaluate_gates(CheckSpec(gates=[spec.gates[0]]), [facts(m, cost=(None, 1.0))])
    assert [(r.status, r.message) for r in missing] == [
        ("INCONCLUSIVE", "no value was recorded on both sides")
    ]


def test_globs_and_unknown_metrics() -> None:
    m = metric(0.0, -0.01, 0.01)
    assert (
        len(evaluate_gates(CheckSpec(gates=[{"metric": "*", "max_drop": 0.05}]), [facts(m)])) == 1
    )
    assert evaluate_gates(CheckSpec(gates=[{"metric": "inc*", "max_drop": 0.05}]), [facts(m)]) == []
    with pytest.raises(
        ConfigError, match=r"check.gates\[0\].metric: 'accuracy' is not a metric of the comparison"
    ):
        evaluate_gates(CheckSpec(gates=[{"metric": "accuracy", "max_drop": 0.05}]), [facts(m)])


def test_verdict_and_reports() -> None:
    spec = CheckSpec(gates=[{"metric": "match", "max_drop": 0.05, "min_value": 0.9}])
    outcome = ComparisonOutcome(Side("b.eval", "base"), Side("c.eval", "cand"))
    outcome.gates = evaluate_gates(spec, [facts(metric(0.0, -0.01, 0.01))])
    outcome.gates[0].comparison = outcome.label
    assert [g.status for g in outcome.gates] == ["PASS", "FAIL"]
    assert verdict(outcome.gates) == "FAIL" and verdict([]) is None
    suite = ElementTree.fromstring(junit_xml([outcome], "checks"))
    assert suite.attrib == {
        "name": "checks",
        "tests": "2",
        "failures": "1",
        "errors": "0",
        "skipped": "0",
    }
    failure = suite.findall("testcase")[1].find("failure")
    assert failure is not None and failure.attrib["message"] == "FAIL: candidate 0.8 is not >= 0.9"
    text = markdown([outcome], "checks")
    assert text.startswith("## checks\n\n**Result: FAIL**\n")
    assert "| ❌ FAIL | cand vs base | `match min_value 0.9` |" in text
