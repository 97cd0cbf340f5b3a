"""Plain-text summary and dict/JSON forms of a :class:`ComparisonResult`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from inspect_mlflow.comparison._types import ComparisonResult, CostComparison, MetricComparison

_CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "unadjusted"}
_MAX_IDS = 10


def summary_text(result: ComparisonResult) -> str:
    """One screen: runs, alignment, metric table with verdicts, sample counts, cost, latency."""
    lines: list[str] = []
    if result.baseline_task == result.candidate_task:
        lines.append(f"Comparison of task {result.baseline_task!r}")
    else:
        lines.append(
            f"Comparison of task {result.baseline_task!r} (baseline) "
            f"with {result.candidate_task!r} (candidate)"
        )
    lines.append(f"  baseline : {result.baseline_model}  {result.baseline_log}")
    lines.append(f"  candidate: {result.candidate_model}  {result.candidate_log}")
    samples = (
        f"Samples: {result.aligned_count} aligned, {result.missing_count} missing from "
        f"candidate, {result.new_count} new in candidate"
    )
    if result.filtered_out:
        samples += f", {result.filtered_out} filtered out"
    if result.baseline_epochs > 1 or result.candidate_epochs > 1:
        samples += (
            f" (epochs {result.baseline_epochs} vs {result.candidate_epochs}, averaged per sample)"
        )
    lines.append(samples)
    level = f"{(1 - result.significance) * 100:g}%"
    settings = (
        f"Tests: alpha {result.significance:g}, {level} CIs, "
        f"{_CORRECTION_NAMES.get(result.correction, result.correction)}-adjusted p"
    )
    if result.cluster:
        settings += f", clustered by {result.cluster!r}"
    if result.method != "auto":
        settings += f", method {result.method}"
    if result.regression_threshold:
        settings += f", regression threshold {result.regression_threshold:g}"
    lines.append(settings)
    lines.append("")
    lines.extend(_metric_table(result.metrics, level))
    notes = [f"  {m.name}: {m.note}" for m in result.metrics if m.note]
    if notes:
        lines.append("Notes:")
        lines.extend(notes)
    lines.append("")
    lines.extend(_sample_lines(result))
    if result.cost is not None:
        lines.extend(_cost_lines(result.cost))
    return "\n".join(lines)


def _metric_table(metrics: list[MetricComparison], level: str) -> list[str]:
    """Aligned columns; ``up/down`` counts the metric's improved/regressed samples."""
    header = [
        "metric",
        "baseline",
        "candidate",
        "delta",
        f"{level} CI",
        "p (adj)",
        "d_z",
        "MDE",
        "n",
        "up/down",
        "test",
        "verdict",
    ]
    rows = [header]
    for m in metrics:
        ci = (
            f"[{_signed(m.ci_lower)}, {_signed(m.ci_upper)}]"
            if m.ci_lower is not None and m.ci_upper is not None
            else "-"
        )
        rows.append(
            [
                m.name,
                _num(m.baseline_value),
                _num(m.candidate_value),
                _signed(m.delta),
                ci,
                _p(m.p_adjusted if m.p_adjusted is not None else m.p_value),
                _signed(m.effect_size, digits=2),
                _num(m.mde),
                str(m.n),
                f"{m.improved}/{m.regressed}" if m.comparable else "-",
                m.test or "-",
                m.verdict,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    right = {1, 2, 3, 5, 6, 7, 8, 9}
    out = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        out.append("  ".join(cells).rstrip())
    return out


def _sample_lines(result: ComparisonResult) -> list[str]:
    regressed = result.regressed_ids
    improved = result.improved_ids
    wins, losses = result.wins_losses()
    rate = result.win_rate
    lines = [
        f"Samples (epochs averaged): {len(regressed)} regressed and {len(improved)} improved "
        f"on some metric; win rate "
        + (f"{rate:.1%} ({wins} of {wins + losses} decisive)" if rate is not None else "n/a")
    ]
    if regressed:
        lines.append(f"  regressed: {_ids(regressed)}")
    if improved:
        lines.append(f"  improved : {_ids(improved)}")
    return lines


def _cost_lines(cost: CostComparison) -> list[str]:
    b, c = cost.baseline, cost.candidate
    lines = []
    if b.total_cost is not None or c.total_cost is not None:
        lines.append(
            f"Cost:    {_money(b.total_cost)} -> {_money(c.total_cost)}"
            + _change(cost.cost_delta, b.total_cost, money=True)
        )
    if b.total_tokens or c.total_tokens:
        lines.append(
            f"Tokens:  {b.total_tokens:,} -> {c.total_tokens:,}"
            + _change(float(cost.tokens_delta), float(b.total_tokens), digits=0)
        )
    if b.latency_p50 is not None or c.latency_p50 is not None:
        lines.append(
            f"Latency: p50 {_secs(b.latency_p50)} -> {_secs(c.latency_p50)}"
            f"{_change(cost.latency_p50_delta, b.latency_p50, unit=' s')}; "
            f"p95 {_secs(b.latency_p95)} -> {_secs(c.latency_p95)}"
            f"{_change(cost.latency_p95_delta, b.latency_p95, unit=' s')}"
        )
    if b.errors or c.errors:
        lines.append(f"Errors:  {b.errors} -> {c.errors} samples")
    return lines


def _ids(ids: list[int | str]) -> str:
    shown = ", ".join(str(i) for i in ids[:_MAX_IDS])
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > _MAX_IDS else "")


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3f}" if abs(value) < 1000 else f"{value:.4g}"


def _signed(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if abs(value) < 0.5 * 10**-digits:
        value = 0.0  # no "-0.000" for float noise
    return f"{value:+.{digits}f}" if abs(value) < 1000 else f"{value:+.4g}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.4f}"


def _secs(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _change(
    delta: float | None,
    base: float | None,
    money: bool = False,
    unit: str = "",
    digits: int = 2,
) -> str:
    if delta is None:
        return ""
    text = (
        f"{'-' if delta < 0 else '+'}${abs(delta):,.4f}" if money else f"{delta:+,.{digits}f}{unit}"
    )
    if base:
        text += f", {delta / base:+.1%}"
    return f" ({text})"


def result_to_dict(result: ComparisonResult) -> dict[str, Any]:
    """Fields of the result plus its derived counts, ready for ``json``."""
    data = asdict(result)
    wins, losses = result.wins_losses()
    data["counts"] = {
        "aligned": result.aligned_count,
        "missing": result.missing_count,
        "new": result.new_count,
        "regressed": len(result.regressed_ids),
        "improved": len(result.improved_ids),
        "wins": wins,
        "losses": losses,
    }
    data["win_rate"] = result.win_rate
    data["regressed_ids"] = result.regressed_ids
    data["improved_ids"] = result.improved_ids
    if result.cost is not None:
        data["cost"]["deltas"] = {
            "total_cost": result.cost.cost_delta,
            "total_tokens": result.cost.tokens_delta,
            "latency_p50": result.cost.latency_p50_delta,
            "latency_p95": result.cost.latency_p95_delta,
            "working_p50": result.cost.working_p50_delta,
            "working_p95": result.cost.working_p95_delta,
        }
    return data


def result_to_json(result: ComparisonResult, indent: int | None = 2) -> str:
    return json.dumps(_finite(result_to_dict(result)), indent=indent, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
