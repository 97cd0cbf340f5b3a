"""PNG of each metric's delta with its confidence interval (matplotlib, Agg, imported lazily).

The figure is drawn on an Agg canvas directly rather than through ``pyplot``, so the caller's
global matplotlib backend is never changed. Each metric gets its own row and x-axis, because
metrics live on different scales (an accuracy delta of 0.05 next to a latency delta of 3 s).
The layout is fixed in inches (a title line above each row, tick labels below it) rather than
computed by matplotlib's constrained layout, which measures every text and costs as much as
the drawing itself.
"""

from __future__ import annotations

from pathlib import Path

from inspect_mlflow.comparison._types import ComparisonResult

_COLOURS = {"regressed": "#c0392b", "improved": "#1e8449"}
_NEUTRAL = "#34495e"
_ROW = 1.1
"""Height of one metric's row, in inches (axes, its title and its tick labels)."""
_TOP = 0.55
_BOTTOM = 0.35
_GAP = 0.55
"""Inches between rows: the tick labels of one row and the title of the next."""


def plot_comparison(result: ComparisonResult, path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = [m for m in result.metrics if m.comparable and m.delta is not None]
    target = Path(path)
    rows = max(1, len(metrics))
    height = _ROW * rows + 1.0
    figure = Figure(figsize=(8.0, height))
    FigureCanvasAgg(figure)
    axes_height = (height - _TOP - _BOTTOM - (rows - 1) * _GAP) / rows
    axes = figure.subplots(
        rows,
        1,
        squeeze=False,
        gridspec_kw={
            "left": 0.03,
            "right": 0.97,
            "top": 1 - _TOP / height,
            "bottom": _BOTTOM / height,
            "hspace": _GAP / axes_height,
        },
    )[:, 0]
    level = f"{(1 - result.significance) * 100:g}%"
    figure.suptitle(
        f"{result.candidate_model} vs {result.baseline_model} on {result.baseline_task}: "
        f"delta with {level} CI",
        fontsize=10,
        y=1 - 0.12 / height,
        va="top",
    )
    if not metrics:
        axes[0].text(0.5, 0.5, "no comparable metrics", ha="center", va="center")
        axes[0].set_axis_off()
    for ax, metric in zip(axes, metrics, strict=False):
        assert metric.delta is not None
        colour = _COLOURS.get(metric.verdict, _NEUTRAL)
        low = metric.ci_lower if metric.ci_lower is not None else metric.delta
        high = metric.ci_upper if metric.ci_upper is not None else metric.delta
        ax.errorbar(
            [metric.delta],
            [0],
            xerr=[[max(0.0, metric.delta - low)], [max(0.0, high - metric.delta)]],  # rounding
            fmt="o",
            color=colour,
            capsize=5,
        )
        ax.axvline(0.0, color="#7f8c8d", linewidth=1)
        if result.regression_threshold:
            ax.axvline(-result.regression_threshold, color="#c0392b", linewidth=1, linestyle=":")
        span = max(abs(low), abs(high), result.regression_threshold, 1e-9) * 1.3
        ax.set_xlim(-span, span)
        ax.set_yticks([])
        p = metric.p_adjusted if metric.p_adjusted is not None else metric.p_value
        ax.set_title(
            f"{metric.name}: {metric.baseline_value:.3g} -> {metric.candidate_value:.3g}"
            f"   p(adj)={'-' if p is None else f'{p:.3g}'}   {metric.verdict}",
            fontsize=9,
            loc="left",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(str(target), format="png", dpi=110)
    return target
