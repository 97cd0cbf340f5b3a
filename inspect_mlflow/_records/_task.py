"""Map one Inspect task (its spec, samples as they finish, and final log) to MLflow records.

Used by the live tracking hook and by the backfill of existing logs, so both produce the same
MLflow content. Memory is constant in the number of samples apart from a few floats per
sample (kept for exact latency percentiles); table rows are handed on as they are made.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.event import ModelEvent, ToolEvent
from inspect_ai.log import EvalLog, EvalPlan, EvalSample, EvalSpec
from inspect_ai.model import ModelUsage

from inspect_mlflow._records._redact import is_secret_name, redact
from inspect_mlflow._records._tables import (
    SAMPLE_SOURCES,
    ArtifactSchema,
    sample_row_roots,
    table_row,
)
from inspect_mlflow._records._values import (
    TAG_VALUE_LIMIT,
    as_float,
    metric_name,
    param_value,
    truncate,
)
from inspect_mlflow._sink._ops import AppendRows, EndRun, LogValues, Metric, Op, StartRun

STEP_METRICS_PER_RECORD = 1000
ROWS_PER_RECORD = 500

_LETTER_SCORES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_USAGE_FIELDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("total", "total_tokens"),
    ("cache_read", "input_tokens_cache_read"),
    ("cache_write", "input_tokens_cache_write"),
    ("reasoning", "reasoning_tokens"),
)


def task_key(eval_id: str) -> str:
    return f"task:{eval_id}"


def parent_key(eval_set_id: str | None, run_id: str) -> str:
    return f"eval_set:{eval_set_id}" if eval_set_id else f"run:{run_id}"


def parent_start(
    eval_set_id: str | None,
    run_id: str,
    experiment: str,
    parent_run_id: str | None,
    extra_tags: dict[str, str],
    experiment_tags: dict[str, str],
    parent_run_key: str | None = None,
) -> StartRun:
    """The parent run of an eval set (or of one ``eval()`` run): live hooks and backfill alike."""
    tags = dict(extra_tags)
    if eval_set_id:
        tags["inspect.eval_set_id"] = eval_set_id
        name = f"eval-set-{eval_set_id[:8]}"
    else:
        tags["inspect.run_id"] = run_id
        name = f"run-{run_id[:8]}"
    return StartRun(
        key=parent_key(eval_set_id, run_id),
        experiment=experiment,
        name=name,
        tags=tags,
        parent_key=parent_run_key,
        parent_run_id=parent_run_id,
        start_time_ms=now_ms(),
        experiment_tags=experiment_tags,
        reuse_finished=True,
    )


def now_ms() -> int:
    return int(time.time() * 1000)


def score_values(name: str, value: Any) -> dict[str, float]:
    """Numeric values of one score: ``{name: v}``, or ``{name/key: v}`` for dict scores."""
    if isinstance(value, dict):
        out: dict[str, float] = {}
        for key, item in value.items():
            out.update(score_values(f"{name}/{key}", item))
        return out
    if isinstance(value, str):
        number = _LETTER_SCORES.get(value.strip().upper()) if len(value.strip()) == 1 else None
        if number is None:
            try:
                number = float(value)
            except ValueError:
                return {}
        return {name: number} if math.isfinite(number) else {}
    number = as_float(value)
    return {} if number is None else {name: number}


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of pre-sorted values."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def latency_metrics(prefix: str, values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        f"{prefix}/mean": sum(ordered) / len(ordered),
        f"{prefix}/p50": percentile(ordered, 0.5),
        f"{prefix}/p95": percentile(ordered, 0.95),
        f"{prefix}/max": ordered[-1],
        f"{prefix}/total": sum(ordered),
    }


def usage_metrics(usage_by_model: dict[str, ModelUsage]) -> dict[str, float]:
    """Token and cost metrics per model and in total."""
    metrics: dict[str, float] = {}
    totals: dict[str, float] = {}
    costs: list[float] = []
    for model, usage in usage_by_model.items():
        for short, attr in _USAGE_FIELDS:
            value = getattr(usage, attr, None)
            if value is not None:
                metrics[f"tokens/{model}/{short}"] = float(value)
                totals[short] = totals.get(short, 0.0) + float(value)
        if usage.total_cost is not None:
            metrics[f"cost/{model}/usd"] = float(usage.total_cost)
            costs.append(float(usage.total_cost))
    metrics.update({f"tokens/{short}": value for short, value in totals.items()})
    if costs:
        metrics["cost/total_usd"] = sum(costs)
    return metrics


def task_params(spec: EvalSpec, plan: EvalPlan | None) -> dict[str, str]:
    """Params of a task run: what was run, with what, under which settings (no secrets)."""
    params: dict[str, Any] = {
        "task": spec.task,
        "model": spec.model,
        "task_version": spec.task_version,
        "dataset.name": spec.dataset.name,
        "dataset.samples": spec.dataset.samples,
        "epochs": spec.config.epochs or 1,
    }
    if spec.task_file:
        params["task_file"] = spec.task_file
    for group, args in (("task_args", spec.task_args), ("model_args", spec.model_args)):
        for name, value in (args or {}).items():
            if is_secret_name(name):
                params[f"{group}.{name}"] = "<redacted>"
            elif _is_plain_data(value):  # callables and objects are not in the log either
                params[f"{group}.{name}"] = redact(value)
    if spec.model_base_url:
        params["model_base_url"] = spec.model_base_url
    for role, role_config in (spec.model_roles or {}).items():
        configs = role_config if isinstance(role_config, list) else [role_config]
        params[f"model_roles.{role}"] = ", ".join(c.model for c in configs)
    generate_config = spec.model_generate_config.model_dump(exclude_none=True)
    for name, value in generate_config.items():
        params[f"generate.{name}"] = "<redacted>" if is_secret_name(name) else redact(value)
    if spec.config.limit is not None:
        params["limit"] = spec.config.limit
    if plan is not None:
        params["solver"] = ", ".join(step.solver for step in plan.steps)
    elif spec.solver:
        params["solver"] = spec.solver
    return {metric_name(k): param_value(v) for k, v in params.items() if v is not None}


def _is_plain_data(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain_data(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain_data(v) for k, v in value.items())
    return False


@dataclass
class TaskRecorder:
    """Accumulates one task's records; call :meth:`start`, :meth:`sample` …, :meth:`finish`."""

    eval_id: str
    schema: ArtifactSchema | None
    key: str = ""
    steps: int = 0
    samples_seen: int = 0
    samples_errored: int = 0
    sample_times: list[float] = field(default_factory=list)
    call_times: list[float] = field(default_factory=list)
    model_calls: int = 0
    tool_calls: int = 0
    tool_errors: int = 0
    usage: dict[str, ModelUsage] = field(default_factory=dict)
    finished: bool = False
    planned_samples: int | None = None
    _step_metrics: list[Metric] = field(default_factory=list)
    _rows: dict[str, list[list[Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = task_key(self.eval_id)

    def start(
        self,
        spec: EvalSpec,
        plan: EvalPlan | None,
        experiment: str,
        parent: str | None,
        parent_run_id: str | None,
        run_name_template: str,
        extra_tags: dict[str, str],
        experiment_tags: dict[str, str] | None = None,
    ) -> StartRun:
        tags = {
            **extra_tags,
            "inspect.run_id": spec.run_id,
            "inspect.eval_id": spec.eval_id,
            "inspect.task": spec.task,
            "inspect.model": spec.model,
        }
        if spec.eval_set_id:
            tags["inspect.eval_set_id"] = spec.eval_set_id
        name = run_name_template.format(task=spec.task, model=spec.model, eval_id=spec.eval_id)
        if spec.dataset.samples is not None:
            self.planned_samples = spec.dataset.samples * (spec.config.epochs or 1)
        return StartRun(
            key=self.key,
            experiment=experiment,
            name=name,
            tags={k: truncate(v, TAG_VALUE_LIMIT) for k, v in tags.items()},
            params=task_params(spec, plan),
            parent_key=parent,
            parent_run_id=None if parent else parent_run_id,
            start_time_ms=now_ms(),
            experiment_tags=experiment_tags or {},
        )

    def sample(self, sample: EvalSample, flush: bool = False) -> list[Op]:
        """Records for one finished sample (most are buffered until there are enough)."""
        step = self.steps
        self.steps += 1
        self.samples_seen += 1
        if sample.error is not None:
            self.samples_errored += 1
        timestamp = now_ms()
        values: dict[str, float] = {}
        for scorer, score in (sample.scores or {}).items():
            values.update(score_values(f"sample/{scorer}", score.value))
        if sample.total_time is not None:
            values["sample/total_time"] = float(sample.total_time)
            self.sample_times.append(float(sample.total_time))
        self._step_metrics.extend(
            (metric_name(name), value, step, timestamp) for name, value in values.items()
        )
        for model, usage in (sample.model_usage or {}).items():
            self.usage[model] = self.usage[model] + usage if model in self.usage else usage
        self._count_events(sample)
        if self.schema is not None:
            for source in SAMPLE_SOURCES:
                for table in self.schema.for_source(source):
                    rows = self._rows.setdefault(table.artifact_file, [])
                    rows.extend(
                        table_row(table, roots) for roots in sample_row_roots(source, sample)
                    )
        return self._drain(flush)

    def finish(self, log: EvalLog | None, status: str) -> list[Op]:
        """Final records: summary metrics, task-level tables, log path, run end."""
        self.finished = True
        ops = self._drain(force=True)
        metrics: dict[str, float] = {}
        tags: dict[str, str] = {}
        results = log.results if log is not None else None
        if results is not None:
            for score in results.scores:
                for metric in score.metrics.values():
                    number = as_float(metric.value)
                    if number is not None:
                        metrics[f"{score.name}/{metric.name}"] = number
        total = results.total_samples if results is not None else None
        if total is None and log is not None:
            total = (log.eval.dataset.samples or 0) * (log.eval.config.epochs or 1)
        if total is None:
            total = self.planned_samples
        if total is not None:
            metrics["samples/total"] = float(total)
        # a task that errored reports no completed samples: count what did finish
        succeeded = log is not None and log.status == "success" and results is not None
        completed = results.completed_samples if succeeded and results is not None else None
        if completed is None:
            completed = self.samples_seen - self.samples_errored
        metrics["samples/completed"] = float(completed)
        metrics["samples/errored"] = float(self.samples_errored)
        usage = dict(log.stats.model_usage) if log is not None and log.stats.model_usage else {}
        metrics.update(usage_metrics(usage or self.usage))
        metrics.update(latency_metrics("latency/sample", self.sample_times))
        metrics.update(latency_metrics("latency/model_call", self.call_times))
        metrics["calls/model"] = float(self.model_calls)
        metrics["calls/tool"] = float(self.tool_calls)
        metrics["calls/tool_errors"] = float(self.tool_errors)
        if log is not None and log.location:
            tags["inspect.log_file"] = truncate(str(log.location), TAG_VALUE_LIMIT)
        if log is not None and log.error is not None:
            tags["inspect.error"] = truncate(log.error.message, TAG_VALUE_LIMIT)
        timestamp = now_ms()
        ops.append(
            LogValues(
                key=self.key,
                metrics=[(metric_name(k), v, 0, timestamp) for k, v in metrics.items()],
                tags=tags,
            )
        )
        if self.schema is not None and log is not None:
            ops.extend(self._task_tables(log, usage or self.usage))
        ops.append(EndRun(key=self.key, status=status, end_time_ms=timestamp))
        return ops

    def _task_tables(self, log: EvalLog, usage: dict[str, ModelUsage]) -> list[Op]:
        assert self.schema is not None
        ops: list[Op] = []
        for table in self.schema.for_source("tasks"):
            roots = {"log": log, "spec": log.eval, "results": log.results, "stats": log.stats}
            ops.append(
                AppendRows(
                    self.key, table.artifact_file, table.column_names, [table_row(table, roots)]
                )
            )
        for table in self.schema.for_source("model_usage"):
            rows = [table_row(table, {"model": m, "usage": u}) for m, u in usage.items()]
            ops.append(AppendRows(self.key, table.artifact_file, table.column_names, rows))
        return ops

    def _count_events(self, sample: EvalSample) -> None:
        seen: set[str] = set()
        for event in sample.events or []:
            if isinstance(event, ModelEvent):
                # the same completed model event can be reported twice: count it once
                if event.uuid is not None and event.uuid in seen:
                    continue
                if event.uuid is not None:
                    seen.add(event.uuid)
                self.model_calls += 1
                duration = event.working_time
                if duration is None and event.output is not None:
                    duration = event.output.time
                if duration is not None:
                    self.call_times.append(float(duration))
            elif isinstance(event, ToolEvent):
                self.tool_calls += 1
                if event.error is not None:
                    self.tool_errors += 1

    def _drain(self, force: bool) -> list[Op]:
        ops: list[Op] = []
        if self._step_metrics and (force or len(self._step_metrics) >= STEP_METRICS_PER_RECORD):
            ops.append(LogValues(key=self.key, metrics=self._step_metrics))
            self._step_metrics = []
        if self.schema is not None:
            for table in (t for s in SAMPLE_SOURCES for t in self.schema.for_source(s)):
                rows = self._rows.get(table.artifact_file)
                if rows and (force or len(rows) >= ROWS_PER_RECORD):
                    ops.append(AppendRows(self.key, table.artifact_file, table.column_names, rows))
                    self._rows[table.artifact_file] = []
        return ops
