"""Console tables, Markdown and JUnit XML for grid points, comparisons and gates."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from inspect_mlflow._orchestrator._checks import GateResult

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome
    from inspect_mlflow._orchestrator._schema import CheckSpec
    from inspect_mlflow._orchestrator._session import PointRun, Printer


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned plain-text table; the first row is the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.3e}"


def points_table(runs: Sequence[PointRun], task_runs: Mapping[str, str | None]) -> str:
    rows = [["#", "grid point", "status", "samples", "scores", "mlflow run"]]
    for run in runs:
        scores = ", ".join(
            f"{name} {fmt(value)}"
            for name, value in run.scores.items()
            if not name.endswith("/stderr")
        )
        rows.append(
            [
                str(run.point.index),
                run.point.describe(),
                run.status,
                str(run.samples),
                scores or "-",
                (task_runs.get(run.eval_id or "") or "-") if run.eval_id else "-",
            ]
        )
    return "Grid points\n" + table(rows)


def comparison_table(outcomes: Sequence[ComparisonOutcome]) -> str:
    rows = [
        [
            "candidate vs baseline",
            "metric",
            "baseline",
            "candidate",
            "delta [CI]",
            "p adj",
            "verdict",
            "check",
        ]
    ]
    for outcome in outcomes:
        if not outcome.compared:
            rows.append([outcome.label, "-", "-", "-", "-", "-", "error", "-"])
            continue
        check = outcome.check_verdict or "-"
        for metric in outcome.rows:
            ci = (
                f" [{fmt(metric.ci_lower)}, {fmt(metric.ci_upper)}]"
                if metric.ci_lower is not None and metric.ci_upper is not None
                else ""
            )
            rows.append(
                [
                    outcome.label,
                    metric.name,
                    fmt(metric.baseline_value),
                    fmt(metric.candidate_value),
                    f"{fmt(metric.delta)}{ci}",
                    fmt(metric.p_adjusted),
                    metric.verdict,
                    check,
                ]
            )
    return "Comparisons\n" + table(rows)


def gate_lines(outcomes: Sequence[ComparisonOutcome]) -> list[str]:
    results = [gate for outcome in outcomes for gate in outcome.gates]
    if not results:
        return []
    counts = {
        status: sum(r.status == status for r in results)
        for status in ("PASS", "FAIL", "INCONCLUSIVE")
    }
    lines = [
        f"Checks: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['INCONCLUSIVE']} inconclusive"
    ]
    for result in results:
        marker = "" if result.status != "INCONCLUSIVE" or result.fails_check else " (warning)"
        lines.append(
            f"  {result.status:<12} {result.comparison}: {result.title}{marker}: {result.message}"
        )
    return lines


def markdown(outcomes: Sequence[ComparisonOutcome], title: str) -> str:
    results = [gate for outcome in outcomes for gate in outcome.gates]
    icon = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️"}
    lines = [f"## {title}", ""]
    failed = any(r.fails_check for r in results) or any(o.error for o in outcomes)
    lines.append(f"**Result: {'FAIL' if failed else 'PASS'}**")
    lines.append("")
    if results:
        lines.append("| | comparison | gate | delta | CI | MDE | detail |")
        lines.append("|---|---|---|---|---|---|---|")
        for r in results:
            ci = f"[{fmt(r.ci_lower)}, {fmt(r.ci_upper)}]" if r.ci_lower is not None else "-"
            lines.append(
                f"| {icon[r.status]} {r.status} | {_md(r.comparison)} | `{_md(r.title)}` | "
                f"{fmt(r.delta)} | {ci} | {fmt(r.mde)} | {_md(r.message)} |"
            )
        lines.append("")
    for outcome in outcomes:
        if outcome.error:
            lines.append(f"- ❌ {_md(outcome.label)}: comparison failed: {_md(outcome.error)}")
    return "\n".join(lines) + "\n"


def junit_xml(outcomes: Sequence[ComparisonOutcome], title: str) -> str:
    suite = ElementTree.Element("testsuite", name=title)
    tests = failures = errors = skipped = 0
    for outcome in outcomes:
        if outcome.error:
            tests += 1
            errors += 1
            case = ElementTree.SubElement(
                suite, "testcase", classname=outcome.label, name="comparison"
            )
            ElementTree.SubElement(case, "error", message=outcome.error)
        for result in outcome.gates:
            tests += 1
            case = ElementTree.SubElement(
                suite, "testcase", classname=result.comparison, name=result.title
            )
            if result.fails_check:
                failures += 1
                ElementTree.SubElement(
                    case, "failure", message=f"{result.status}: {result.message}"
                )
            elif result.status == "INCONCLUSIVE":
                skipped += 1
                ElementTree.SubElement(case, "skipped", message=result.message)
            ElementTree.SubElement(case, "system-out").text = _detail(result)
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    ElementTree.indent(suite)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + ElementTree.tostring(suite, encoding="unicode")
        + "\n"
    )


def write_reports(
    outcomes: Sequence[ComparisonOutcome], spec: CheckSpec, out: Printer, title: str
) -> None:
    """JUnit XML and Markdown files as configured, and ``$GITHUB_STEP_SUMMARY`` when set."""
    if not any(outcome.gates or outcome.error for outcome in outcomes) or not spec.gates:
        return
    if spec.junit:
        path = Path(spec.junit)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(junit_xml(outcomes, title), encoding="utf-8")
        out(f"JUnit report: {path}")
    text = markdown(outcomes, title)
    if spec.markdown:
        path = Path(spec.markdown)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out(f"Markdown report: {path}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(text)


def _detail(result: GateResult) -> str:
    return (
        f"baseline={fmt(result.baseline)} candidate={fmt(result.candidate)} delta={fmt(result.delta)} "
        f"ci=[{fmt(result.ci_lower)}, {fmt(result.ci_upper)}] p_adjusted={fmt(result.p_adjusted)} "
        f"mde={fmt(result.mde)} n={result.n if result.n is not None else '-'}"
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
