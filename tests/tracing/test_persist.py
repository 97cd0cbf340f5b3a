"""The writer's two ways of storing traces give the same result, never duplicate, and fall back.

Traces come from a real eval's samples; they are written with the real :class:`Writer` into
real SQLite stores: once through the bulk SQL path, once through MLflow's trace API.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalSample
from mlflow import MlflowClient

from inspect_mlflow._records._traces import TraceContext, sample_trace
from inspect_mlflow._sink import _traces
from inspect_mlflow._sink._ops import LogTraces, StartRun
from inspect_mlflow._sink._writer import Writer
from tests.tracing.support import agent_outputs, copy_store, traced_agent

KEY = "task:persist"


@pytest.fixture(autouse=True)
def _offline_price_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's ``log_spans`` (the API path) would fetch a price catalog for 7 s offline."""
    monkeypatch.setenv("MLFLOW_MODEL_CATALOG_URI", "")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[EvalSample]:
    logs = eval(
        traced_agent(n=4),
        model="mockllm/model",
        model_args={"custom_outputs": agent_outputs},
        fail_on_error=False,
        log_dir=str(tmp_path_factory.mktemp("persist-logs")),
        display="none",
    )
    assert logs[0].samples is not None
    return logs[0].samples


def traces_of(samples: list[EvalSample]) -> list[dict[str, Any]]:
    context = TraceContext(
        eval_id="persist", run_id="r", task="traced_agent", model="mockllm/model", experiment="e"
    )
    return [sample_trace(sample, context) for sample in samples]


def write(uri: str, traces: list[dict[str, Any]], api: bool = False, times: int = 1) -> Writer:
    writer = Writer(uri)
    writer.apply([StartRun(key=KEY, experiment="e", name="run")])
    if api:
        _traces._state_for(writer).sql = None
    for _ in range(times):
        writer.apply([LogTraces(key=KEY, traces=traces)])
    assert writer.take_problems() == []
    return writer


def rows(uri: str, table: str, order: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(uri.removeprefix("sqlite:///"))
    try:
        return db.execute(f"select * from {table} order by {order}").fetchall()
    finally:
        db.close()


def normalized(client: MlflowClient, trace_id: str) -> dict[str, Any]:
    data = json.loads(json.dumps(client.get_trace(trace_id).to_dict()))
    info = data["info"]
    info["tags"].pop("mlflow.artifactLocation")
    info["trace_metadata"].pop("mlflow.sourceRun")
    for assessment in info["assessments"]:
        assessment["metadata"].pop("mlflow.assessment.sourceRunId")
        assessment.pop("run_id", None)
    data["data"]["spans"].sort(key=lambda s: s["span_id"])
    return data


def test_bulk_sql_and_trace_api_store_the_same(
    tmp_path: Path, store_template: Path, samples: list[EvalSample]
) -> None:
    traces = traces_of(samples)
    bulk = copy_store(store_template, tmp_path / "bulk")
    api = copy_store(store_template, tmp_path / "api")
    write(bulk, json.loads(json.dumps(traces)))
    write(api, json.loads(json.dumps(traces)), api=True)
    bulk_client, api_client = MlflowClient(bulk), MlflowClient(api)
    for trace in traces:
        assert normalized(bulk_client, trace["trace_id"]) == normalized(
            api_client, trace["trace_id"]
        )
    # row for row, apart from the run ids the two stores gave their runs
    for table, order in (
        ("trace_info", "request_id"),
        ("trace_tags", "request_id, key"),
        ("spans", "trace_id, span_id"),
    ):
        assert rows(bulk, table, order) == rows(api, table, order), table
    expected = sum(len(s.scores or {}) + 1 for s in samples)  # scores and the target
    assert len(rows(bulk, "assessments", "assessment_id")) == expected


@pytest.mark.parametrize("api", [False, True], ids=["bulk", "api"])
def test_writing_twice_does_not_duplicate(
    tmp_path: Path, store_template: Path, samples: list[EvalSample], api: bool
) -> None:
    uri = copy_store(store_template, tmp_path)
    write(uri, traces_of(samples), api=api, times=2)
    assert len(rows(uri, "trace_info", "request_id")) == len(samples)
    assessments = rows(uri, "assessments", "assessment_id")
    expected = sum(len(s.scores or {}) + 1 for s in samples)
    assert len(assessments) == expected
    spans = rows(uri, "spans", "trace_id, span_id")
    assert len(spans) == sum(len(t["spans"]) for t in traces_of(samples))


def test_bulk_failure_falls_back_to_the_trace_api(
    tmp_path: Path, store_template: Path, samples: list[EvalSample], monkeypatch: pytest.MonkeyPatch
) -> None:
    def drifted(self: Any, experiment_id: str, traces: Any) -> Any:
        raise RuntimeError("no such column: trace_info.renamed")

    monkeypatch.setattr(_traces._SqlBulk, "write", drifted)
    uri = copy_store(store_template, tmp_path)
    writer = Writer(uri)
    writer.apply([StartRun(key=KEY, experiment="e", name="run")])
    writer.apply([LogTraces(key=KEY, traces=traces_of(samples))])
    (problem,) = writer.take_problems()
    assert "bulk trace insert failed" in problem and "renamed" in problem
    assert _traces._state_for(writer).sql is None
    assert len(rows(uri, "trace_info", "request_id")) == len(samples)
