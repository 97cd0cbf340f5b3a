"""Persist finished traces in bulk (writer side of ``LogTraces``).

Two ways to write, chosen per tracking store:

* SQL stores (``sqlite:``, ``postgresql:``, ``mysql:``, ``mssql:``): one transaction per batch,
  with multi-row inserts into MLflow's own tables (through MLflow's ORM models), writing
  exactly the rows that ``start_trace`` + ``log_spans`` would write. Measured on SQLite: ~2 ms
  per trace of 8 spans and 3 assessments (~3 ms with 21 spans), against ~17 ms (~57 ms)
  through MLflow's trace API, which commits once per trace in ``start_trace`` and compiles a
  multi-row statement per span batch in ``log_spans``. MLflow offers no multi-trace
  ``start_trace`` and no batched assessments, hence this path.
* Anything else (``http(s)://`` tracking servers): MLflow's public trace API: ``start_trace``
  per trace (carrying its tags, metadata and assessments, so assessments cost no extra calls),
  sent from a few threads at once, then ``log_spans`` for many traces per request (the server's
  OTLP endpoint stores a request in one transaction).

If the SQL path fails for a reason other than a transient store error (for example a schema
that a newer MLflow changed), the writer reports it once and uses the API path from then on.
Traces that already exist are skipped (SQL) or merged (API), so replaying a spool or logging a
sample again never duplicates a trace or its assessments (ids are derived from the sample).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import weakref
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from inspect_mlflow._sink._ops import LogTraces

if TYPE_CHECKING:
    from mlflow.entities import Assessment, Span, TraceInfo

    from inspect_mlflow._sink._writer import Writer

GENAI_EXPERIMENT_TAGS = {"mlflow.experimentKind": "genai_development"}
"""Marks the experiment as a GenAI experiment (the UI's Evaluations and Traces views)."""

SPANS_PER_REQUEST = 2000
"""Spans per ``log_spans`` call on the API path (one OTLP request over HTTP)."""

API_THREADS = 8
"""Concurrent ``start_trace`` calls on the API path when the store is remote."""

SOURCE_RUN = "mlflow.sourceRun"
OWNER_TAG = "inspect.eval_id"
"""A trace carrying this tag was written by us (and is complete)."""
TRACE_COST = "mlflow.trace.cost"
LLM_COST = "mlflow.llm.cost"
LLM_MODEL = "mlflow.llm.model"
LLM_PROVIDER = "mlflow.llm.provider"
CHAT_USAGE = "mlflow.chat.tokenUsage"
SIZE_STATS = "mlflow.trace.sizeStats"
SIZE_BYTES = "mlflow.trace.sizeBytes"


def persist_traces(writer: Writer, op: LogTraces) -> None:
    """Write the traces of ``op``, linked to the run of ``op.key`` when there is one."""
    if not op.traces:
        return
    state = _state_for(writer)
    run_id = writer.run_id(op.key)
    groups: dict[str, list[dict[str, Any]]] = {}
    for trace in op.traces:
        groups.setdefault(trace["experiment"], []).append(trace)
    for experiment, traces in groups.items():
        experiment_id = writer.experiment_id(experiment, GENAI_EXPERIMENT_TAGS)
        prepared = [prepare_trace(trace, experiment_id, run_id) for trace in traces]
        state.write(writer, experiment_id, prepared)


# ---- entities ------------------------------------------------------------------------------


@dataclass
class PreparedTrace:
    """One trace as MLflow entities; its spans as ``Span.to_dict()`` dicts and their JSON."""

    info: TraceInfo
    span_dicts: list[dict[str, Any]]
    contents: list[str]

    @property
    def spans(self) -> list[Span]:
        from mlflow.entities import Span

        return [Span.from_dict(d) for d in self.span_dicts]


def prepare_trace(trace: dict[str, Any], experiment_id: str, run_id: str | None) -> PreparedTrace:
    """MLflow entities for one trace dict built by :mod:`inspect_mlflow._records._traces`."""
    from mlflow.entities import TraceInfo, TraceLocation, TraceState

    trace_id = trace["trace_id"]
    metadata = dict(trace["metadata"])
    if run_id:
        metadata[SOURCE_RUN] = run_id
    span_dicts = trace["spans"]
    costs = [_estimate_cost(span) for span in span_dicts]
    if TRACE_COST not in metadata and any(costs):
        metadata[TRACE_COST] = json.dumps(_sum_costs([c for c in costs if c]))
    contents = [json.dumps(span, ensure_ascii=False) for span in span_dicts]
    metadata.update(_size_stats(contents))
    info = TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=int(trace["request_time_ms"]),
        state=TraceState(trace["state"]),
        request_preview=trace.get("request_preview"),
        response_preview=trace.get("response_preview"),
        execution_duration=int(trace["execution_duration_ms"]),
        trace_metadata=metadata,
        tags=dict(trace["tags"]),
        assessments=[_assessment(a, trace_id, run_id) for a in trace.get("assessments", [])],
    )
    return PreparedTrace(info=info, span_dicts=span_dicts, contents=contents)


def _estimate_cost(span: dict[str, Any]) -> dict[str, float] | None:
    """MLflow's cost estimate for an LLM span that has usage but no cost (as ``log_spans`` does).

    Done here so that both write paths store the same cost; the span dict gets the attribute.
    The provider is not passed: with it MLflow first fetches a price catalog over the network
    (with ~7 s of retries when offline); without it, it uses the catalog it ships with.
    """
    attributes = span["attributes"]
    if LLM_COST in attributes:
        return cast(dict[str, float], json.loads(attributes[LLM_COST]))
    if CHAT_USAGE not in attributes or LLM_MODEL not in attributes:
        return None
    model = json.loads(attributes[LLM_MODEL])
    if model in _UNPRICED:
        return None
    from mlflow.tracing.utils import calculate_cost_by_model_and_token_usage

    usage = json.loads(attributes[CHAT_USAGE])
    try:
        cost = calculate_cost_by_model_and_token_usage(model, usage)
    except Exception:
        cost = None
    if not cost:
        if usage.get("input_tokens") or usage.get("output_tokens"):
            _UNPRICED.add(model)
        return None
    attributes[LLM_COST] = json.dumps(cost)
    return cost


_UNPRICED: set[str] = set()
"""Models MLflow has no price for (looking one up scans every bundled catalog)."""


def _sum_costs(costs: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for cost in costs:
        for key, value in cost.items():
            total[key] = total.get(key, 0.0) + float(value)
    return total


def _assessment(data: dict[str, Any], trace_id: str, run_id: str | None) -> Assessment:
    from mlflow.entities import AssessmentSource, Expectation, Feedback

    source = AssessmentSource(source_type=data["source_type"], source_id=data["source_id"])
    metadata = dict(data.get("metadata") or {})
    if run_id:
        metadata["mlflow.assessment.sourceRunId"] = run_id
    assessment: Assessment
    if data["kind"] == "expectation":
        assessment = Expectation(
            name=data["name"],
            value=data["value"],
            source=source,
            trace_id=trace_id,
            metadata=metadata,
            create_time_ms=data["time_ms"],
            last_update_time_ms=data["time_ms"],
        )
    else:
        assessment = Feedback(
            name=data["name"],
            value=data["value"],
            source=source,
            trace_id=trace_id,
            metadata=metadata,
            rationale=data.get("rationale"),
            create_time_ms=data["time_ms"],
            last_update_time_ms=data["time_ms"],
        )
    assessment.assessment_id = data["assessment_id"]
    return assessment


def _size_stats(contents: list[str]) -> dict[str, str]:
    """MLflow's size metadata; ``num_spans`` lets readers tell a complete trace from a partial one."""
    sizes = sorted(len(content.encode("utf-8")) for content in contents)
    if not sizes:
        return {}
    total = sum(sizes) + 2 * (len(sizes) - 1)

    def pick(q: float) -> int:
        return sizes[min(len(sizes) - 1, int(q * len(sizes)))]

    stats = {
        "total_size_bytes": total,
        "num_spans": len(sizes),
        "max": sizes[-1],
        "p25": pick(0.25),
        "p50": pick(0.5),
        "p75": pick(0.75),
    }
    return {SIZE_STATS: json.dumps(stats), SIZE_BYTES: str(total)}


# ---- per-writer state ----------------------------------------------------------------------


class _TraceWriter:
    """How this writer persists traces; starts with the SQL path where the store allows it."""

    def __init__(self, writer: Writer) -> None:
        from mlflow.tracing.client import TracingClient

        if _in_writer_process():
            # MLflow's cost estimate otherwise fetches a price catalog over the network (with
            # ~7 s of retries when offline) before falling back to the catalog it ships with
            os.environ.setdefault("MLFLOW_MODEL_CATALOG_URI", "")
        self.client = TracingClient(writer.tracking_uri)
        self.sql: _SqlBulk | None = _SqlBulk.for_store(self.client.store)

    def write(self, writer: Writer, experiment_id: str, traces: list[PreparedTrace]) -> None:
        from inspect_mlflow._sink._writer import MlflowUnavailable

        if self.sql is not None:
            try:
                traces = writer._call(self.sql.write, experiment_id, traces)
                if not traces:
                    return
            except MlflowUnavailable:
                raise
            except Exception as ex:
                self.sql = None
                writer.problems.append(
                    "inspect_mlflow: bulk trace insert failed "
                    f"({type(ex).__name__}: {str(ex).splitlines()[0][:300] if str(ex) else ''}); "
                    "writing traces through MLflow's trace API from now on (slower)"
                )
        write_with_api(writer, self.client, experiment_id, traces)


def _in_writer_process() -> bool:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return getattr(spec, "name", None) == "inspect_mlflow._sink._worker"


_states: weakref.WeakKeyDictionary[Writer, _TraceWriter] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state_for(writer: Writer) -> _TraceWriter:
    with _states_lock:
        state = _states.get(writer)
        if state is None:
            state = _TraceWriter(writer)
            _states[writer] = state
        return state


# ---- API path ------------------------------------------------------------------------------


def write_with_api(
    writer: Writer, client: Any, experiment_id: str, traces: list[PreparedTrace]
) -> None:
    """``start_trace`` per trace (concurrently on remote stores), then ``log_spans`` in chunks."""
    from mlflow.store.tracking.rest_store import RestStore

    def start(trace: PreparedTrace) -> None:
        writer._call(client.start_trace, trace.info)

    if isinstance(client.store, RestStore) and len(traces) > 1:
        with ThreadPoolExecutor(max_workers=min(API_THREADS, len(traces))) as pool:
            for future in [pool.submit(start, trace) for trace in traces]:
                future.result()
    else:
        for trace in traces:
            start(trace)
    for chunk in _chunks([span for trace in traces for span in trace.spans], SPANS_PER_REQUEST):
        writer._call(client.log_spans, experiment_id, chunk)


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---- SQL path ------------------------------------------------------------------------------


class _SqlBulk:
    """Many traces per transaction on MLflow's SQLAlchemy store (see the module docstring)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._artifact_roots: dict[str, str] = {}

    @classmethod
    def for_store(cls, store: Any) -> _SqlBulk | None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        return cls(store) if isinstance(store, SqlAlchemyStore) else None

    def write(self, experiment_id: str, traces: list[PreparedTrace]) -> list[PreparedTrace]:
        """Insert the traces that are new; return those that exist but are not ours yet.

        A trace can exist before we write it when provider autolog spans of the sample reached
        the store first (MLflow then creates the trace from them): those are merged through the
        API path. Traces we wrote before (same ids) are skipped.
        """
        from mlflow.store.tracking.dbmodels.models import (
            SqlAssessments,
            SqlSpan,
            SqlTraceInfo,
            SqlTraceMetadata,
            SqlTraceTag,
        )
        from mlflow.store.tracking.utils.sql_trace_rollups import (
            RollupFamily,
            enqueue_rollup_rebuild_partitions,
        )
        from sqlalchemy import insert, select

        if not traces:
            return []
        self._artifact_root(experiment_id)
        with self.store.ManagedSessionMaker(read_only=False) as session:
            ids = [t.info.trace_id for t in traces]
            existing = set(
                session.scalars(
                    select(SqlTraceInfo.request_id).where(SqlTraceInfo.request_id.in_(ids))
                )
            )
            ours = (
                set(
                    session.scalars(
                        select(SqlTraceTag.request_id).where(
                            SqlTraceTag.request_id.in_(existing), SqlTraceTag.key == OWNER_TAG
                        )
                    )
                )
                if existing
                else set()
            )
            todo = [t for t in traces if t.info.trace_id not in existing]
            foreign = [t for t in traces if t.info.trace_id in existing - ours]
            if not todo:
                return foreign
            rows = _Rows()
            for trace in todo:
                self._trace_rows(rows, experiment_id, trace)
            exp = int(experiment_id)
            enqueue_rollup_rebuild_partitions(
                session,
                [
                    (RollupFamily.TRACE_METRIC, exp, rows.request_times),
                    (RollupFamily.ASSESSMENT, exp, rows.request_times),
                    (RollupFamily.SPAN_COST, exp, rows.span_times),
                ],
            )
            session.execute(insert(SqlTraceInfo), rows.infos)
            if rows.tags:
                session.execute(insert(SqlTraceTag), rows.tags)
            if rows.metadata:
                session.execute(insert(SqlTraceMetadata), rows.metadata)
            if rows.spans:
                session.execute(insert(SqlSpan), rows.spans)
            for trace in todo:
                for assessment in trace.info.assessments:
                    sql_assessment = SqlAssessments.from_mlflow_entity(assessment)
                    sql_assessment.trace_id = trace.info.trace_id
                    sql_assessment.experiment_id = exp
                    sql_assessment.trace_timestamp_ms = trace.info.request_time
                    session.add(sql_assessment)
        return foreign

    def _artifact_root(self, experiment_id: str) -> str:
        root = self._artifact_roots.get(experiment_id)
        if root is None:
            root = self.store.get_experiment(experiment_id).artifact_location
            self._artifact_roots[experiment_id] = root
        return root

    def _trace_rows(self, rows: _Rows, experiment_id: str, trace: PreparedTrace) -> None:
        """The rows ``start_trace`` and ``log_spans`` write for one new trace."""
        from mlflow.store.tracking.utils.trace_analytics import (
            PROMOTED_TRACE_METADATA_KEYS,
            analytics_columns_from_metadata,
            validate_trace_name,
        )
        from mlflow.tracing.constant import SpansLocation, TraceMetadataKey, TraceTagKey
        from mlflow.utils.uri import append_to_uri_path

        info = trace.info
        trace_id = info.trace_id
        metadata = dict(info.trace_metadata)
        analytics = analytics_columns_from_metadata(metadata)
        for key in PROMOTED_TRACE_METADATA_KEYS:
            metadata.pop(key, None)
        metadata[TraceMetadataKey.TRACE_INFO_FINALIZED] = "true"
        rows.infos.append(
            {
                "request_id": trace_id,
                "experiment_id": int(experiment_id),
                "timestamp_ms": info.request_time,
                "execution_time_ms": info.execution_duration,
                "status": info.state.value,
                "client_request_id": info.client_request_id,
                "request_preview": info.request_preview,
                "response_preview": info.response_preview,
                "trace_name": validate_trace_name(info.tags.get(TraceTagKey.TRACE_NAME)),
                "db_payload_generation": 1,
                **analytics,
            }
        )
        rows.request_times.append(info.request_time)
        tags = {k: v for k, v in info.tags.items() if k != TraceTagKey.TRACE_NAME}
        tags["mlflow.artifactLocation"] = append_to_uri_path(
            self._artifact_roots[experiment_id], "traces", trace_id, "artifacts"
        )
        tags[TraceTagKey.SPANS_LOCATION] = SpansLocation.TRACKING_STORE.value
        rows.tags.extend({"request_id": trace_id, "key": k, "value": v} for k, v in tags.items())
        rows.metadata.extend(
            {"request_id": trace_id, "key": k, "value": v} for k, v in sorted(metadata.items())
        )
        for span, content in zip(trace.span_dicts, trace.contents, strict=True):
            rows.spans.append(self._span_row(experiment_id, trace_id, span, content))
            rows.span_times.append(int(span["start_time_unix_nano"]) // 1_000_000)

    def _span_row(
        self, experiment_id: str, trace_id: str, span: dict[str, Any], content: str
    ) -> dict[str, Any]:
        """A ``spans`` row as ``log_spans`` writes it (the span is already in MLflow's format)."""
        from mlflow.store.tracking.utils.trace_analytics import (
            bounded_model_dimension,
            finite_float_or_none,
        )

        attributes = span["attributes"]
        cost = json.loads(attributes[LLM_COST]) if LLM_COST in attributes else {}
        status = span["status"]["code"]
        return {
            "trace_id": trace_id,
            "experiment_id": int(experiment_id),
            "span_id": _hex_id(span["span_id"]),
            "parent_span_id": _hex_id(span["parent_span_id"]) if span["parent_span_id"] else None,
            "name": span["name"],
            "type": json.loads(attributes[SPAN_TYPE]) if SPAN_TYPE in attributes else None,
            "status": _STATUS_NAMES.get(status, "UNSET"),
            "start_time_unix_nano": int(span["start_time_unix_nano"]),
            "end_time_unix_nano": int(span["end_time_unix_nano"]),
            "content": content,
            "input_cost": finite_float_or_none(cost.get("input_cost")),
            "output_cost": finite_float_or_none(cost.get("output_cost")),
            "total_cost": finite_float_or_none(cost.get("total_cost")),
            "model_name": bounded_model_dimension(_json_value(attributes.get(LLM_MODEL))),
            "model_provider": bounded_model_dimension(_json_value(attributes.get(LLM_PROVIDER))),
        }


@dataclass
class _Rows:
    infos: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    metadata: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    request_times: list[int]
    span_times: list[int]

    def __init__(self) -> None:
        self.infos, self.tags, self.metadata, self.spans = [], [], [], []
        self.request_times, self.span_times = [], []


_STATUS_NAMES = {"STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR", "STATUS_CODE_UNSET": "UNSET"}
SPAN_TYPE = "mlflow.spanType"


def _hex_id(b64: str) -> str:
    """MLflow's span id column: 16 hex digits (the dict holds base64 of the 8 bytes)."""
    return base64.b64decode(b64).hex()


def _json_value(raw: Any) -> Any:
    """An attribute value as MLflow reads it back (JSON-decoded when it is JSON)."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw
