"""Records handed from the hooks to the writer.

Plain dataclasses of JSON-compatible values: they cross a pipe to the writer process
(pickled) and are kept in the spool (JSON lines) when MLflow cannot take them. Runs are
referred to by a local ``key`` (e.g. ``task:<eval_id>``) that the writer maps to an MLflow
run id, so the hooks never wait for MLflow to answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

Metric = tuple[str, float, int, int]
"""(name, value, step, timestamp in ms)."""


@dataclass(frozen=True)
class StartRun:
    key: str
    experiment: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    parent_key: str | None = None
    """Key of a run started earlier by the same writer."""
    parent_run_id: str | None = None
    """An MLflow run id to nest under (used when ``parent_key`` is ``None``)."""
    start_time_ms: int | None = None
    experiment_tags: dict[str, str] = field(default_factory=dict)
    """Tags set on the experiment when the writer creates or first uses it."""
    reuse_finished: bool = False
    """When a finished run with this key exists: reuse it (parents) instead of skipping (tasks)."""


@dataclass(frozen=True)
class LogValues:
    key: str
    metrics: list[Metric] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AppendRows:
    key: str
    artifact_file: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class EndRun:
    key: str
    status: str
    """FINISHED, FAILED or KILLED."""
    end_time_ms: int | None = None


@dataclass(frozen=True)
class LogTraces:
    """Finished traces (built by the tracing hook) to persist in bulk."""

    key: str
    """Run the traces are linked to."""
    traces: list[dict[str, Any]]


@dataclass(frozen=True)
class BindRun:
    """Spool-only: records after this one for ``key`` belong to an existing MLflow run."""

    key: str
    run_id: str


@dataclass(frozen=True)
class Flush:
    token: int


@dataclass(frozen=True)
class Call:
    """A request answered by the writer once the records before it are applied.

    The orchestrator's sweep-level work (open the sweep run, compare, write back) goes
    through the hooks' writer this way, so one process imports MLflow and the sweep run is
    created before any run the hooks start under it, without the eval waiting for it.
    Never spooled: a call that cannot be served is answered with an error.
    """

    token: int
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Configure:
    """First record to a writer started before its tracking URI was known (see ``prestart``)."""

    tracking_uri: str
    spool_dir: str | None = None


Op = StartRun | LogValues | AppendRows | EndRun | LogTraces | BindRun | Flush | Call | Configure

_OP_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (StartRun, LogValues, AppendRows, EndRun, LogTraces, BindRun, Flush)
}


def op_to_json(op: Op) -> dict[str, Any]:
    return {"op": type(op).__name__, **dataclasses.asdict(op)}


def op_from_json(data: dict[str, Any]) -> Op:
    payload = dict(data)
    cls = _OP_TYPES[payload.pop("op")]
    if cls is LogValues:
        payload["metrics"] = [tuple(m) for m in payload.get("metrics", [])]
    op: Op = cls(**payload)
    return op
