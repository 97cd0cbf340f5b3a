"""Run resolved grid points through one Inspect ``eval_set`` with the hooks configured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspect_mlflow._orchestrator._plan import Plan
from inspect_mlflow._orchestrator._resolve import POINT_METADATA_KEY, ResolvedPoint
from inspect_mlflow._orchestrator._schema import EvalOptions
from inspect_mlflow._orchestrator._session import PointRun
from inspect_mlflow._settings import Settings, configure


def run_eval_set(
    resolved: Sequence[ResolvedPoint],
    options: EvalOptions,
    log_dir: Path,
    settings: Settings,
    sweep_name: str,
) -> list[PointRun]:
    """One ``eval_set`` over every point: concurrency across tasks, retries, resume.

    A log dir that already holds this sweep's logs resumes it: finished tasks are not run
    again. Ctrl-C propagates as ``KeyboardInterrupt`` (the caller marks the runs KILLED).
    """
    from inspect_ai import eval_set

    kwargs: dict[str, Any] = {
        "log_dir": str(log_dir),
        "limit": options.limit,
        "max_samples": options.max_samples,
        "max_tasks": options.max_tasks or len(resolved),
        "retry_attempts": options.retry_attempts,
        "retry_wait": options.retry_wait,
        "fail_on_error": options.fail_on_error,
        "display": options.display,
        "log_level": options.log_level,
        "tags": ["inspect_mlflow", f"sweep:{sweep_name}"],
    }
    if options.max_connections is not None:
        kwargs["max_connections"] = options.max_connections
    configure(settings)
    try:
        _, logs = eval_set(tasks=[item.task for item in resolved], **kwargs)
    finally:
        configure(None)

    by_point: dict[str, Any] = {}
    for log in logs:
        key = (log.eval.metadata or {}).get(POINT_METADATA_KEY)
        if key is not None:
            by_point[str(key)] = log
    return [point_run(item, by_point.get(item.point.key)) for item in resolved]


def point_run(item: ResolvedPoint, log: Any) -> PointRun:
    if log is None:
        return PointRun(
            item.point, status="missing", error="eval_set returned no log for this point"
        )
    scores: dict[str, float] = {}
    samples = 0
    if log.results is not None:
        samples = int(log.results.completed_samples or 0)
        for score in log.results.scores:
            for name, metric in score.metrics.items():
                if isinstance(metric.value, (int, float)):
                    scores[f"{score.name}/{name}"] = float(metric.value)
    return PointRun(
        point=item.point,
        status=str(log.status),
        log_file=local_path(str(log.location)) if log.location else None,
        eval_id=str(log.eval.eval_id),
        eval_set_id=str(log.eval.eval_set_id) if log.eval.eval_set_id else None,
        error=log.error.message if log.error else None,
        scores=scores,
        samples=samples,
    )


def local_path(location: str) -> str:
    """``file:///x/y.eval`` (how Inspect reports resumed logs) as ``/x/y.eval``; others as given."""
    if location.startswith("file://"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(location).path)
    return location


def dry_run_text(
    plan: Plan,
    resolved: Sequence[ResolvedPoint],
    pairs: Sequence[tuple[Any, Any]],
    log_dir: Path,
    mlflow_target: str,
) -> str:
    """What a sweep would run: points, tasks, models, samples x epochs, comparisons."""
    from inspect_mlflow._orchestrator._report import table

    rows = [["#", "task", "model", "params", "samples", "epochs", "sample runs"]]
    total = 0
    for item in resolved:
        point = item.point
        params = " ".join(f"{k}={v}" for k, v in point.axes.items() if k not in ("task", "model"))
        runs = item.samples * item.epochs
        total += runs
        rows.append(
            [
                str(point.index), point.task.display, point.model.display, params or "-",
                str(item.samples), str(item.epochs), str(runs),
            ]
        )  # fmt: skip
    tasks = sorted({item.point.task.display for item in resolved})
    models = sorted({item.point.model.display for item in resolved})
    lines = [
        f"Sweep {plan.name!r} (dry run: nothing is run or written)",
        table(rows),
        "",
        f"{len(resolved)} grid points, {len(tasks)} task(s): {', '.join(tasks)}; "
        f"{len(models)} model(s): {', '.join(models)}",
        f"Total: {total} sample runs (samples x epochs)",
        f"Log dir: {log_dir}",
        f"MLflow: {mlflow_target}",
    ]
    if pairs:
        lines.append(f"Comparisons ({len(pairs)}):")
        for baseline, candidate in pairs:
            lines.append(f"  {candidate.describe()}  vs  {baseline.describe()}")
    return "\n".join(lines)
