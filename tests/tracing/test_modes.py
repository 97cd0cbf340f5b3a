"""Tracing alone, both hooks in the other registration order, limits, caps, and no loss at scale."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from inspect_ai import Task, eval, eval_set
from inspect_ai.dataset import Sample
from inspect_ai.model import ModelOutput
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate
from mlflow import MlflowClient
from mlflow.tracing.constant import TraceMetadataKey

from tests.helpers import task_runs, usage
from tests.tracing.support import agent_outputs, all_traces, traced_agent


def test_tracing_alone_puts_traces_in_the_experiment_unlinked(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri, tracing=True, tracking=False, writer="thread")
    logs = eval(
        traced_agent(n=2),
        model="mockllm/model",
        model_args={"custom_outputs": agent_outputs},
        log_dir=str(tmp_path / "logs"),
    )
    client = MlflowClient(tracking_uri)
    assert task_runs(client) == []
    traces = all_traces(client)
    assert len(traces) == 2
    assert all(TraceMetadataKey.SOURCE_RUN not in t.info.trace_metadata for t in traces)
    assert {a.name for a in traces[0].info.assessments} == {
        "match",
        "includes",
        "expected_response",
    }
    experiment = client.get_experiment_by_name("inspect_ai")
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "genai_development"
    assert logs[0].status == "success"


@pytest.fixture
def tracing_registered_first(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reorder Inspect's hook registry so the tracing hook runs before the tracking hook."""
    from inspect_ai._util import registry
    from inspect_ai.hooks import _hooks

    names = list(registry._registry)
    tracing = next(n for n in names if n.endswith("mlflow_tracing"))
    tracking = next(n for n in names if n.endswith("mlflow_tracking"))
    order = [tracing, *(n for n in names if n != tracing)]
    assert order.index(tracing) < order.index(tracking)
    monkeypatch.setattr(registry, "_registry", {n: registry._registry[n] for n in order})
    monkeypatch.setattr(_hooks, "_hooks_cache_state", None)
    yield
    monkeypatch.setattr(_hooks, "_hooks_cache_state", None)


def test_both_hooks_in_the_other_order(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any, tracing_registered_first: None
) -> None:
    from inspect_ai.hooks._hooks import get_all_hooks

    assert [type(h).__name__ for h in get_all_hooks()][:2] == [
        "MlflowTracingHooks",
        "MlflowTrackingHooks",
    ]
    configure_hooks(tracking_uri=tracking_uri, tracing=True, writer="thread")
    eval(
        traced_agent(n=2),
        model="mockllm/model",
        model_args={"custom_outputs": agent_outputs},
        epochs=2,
        log_dir=str(tmp_path / "logs"),
    )
    client = MlflowClient(tracking_uri)
    (run,) = task_runs(client)
    assert run.info.status == "FINISHED"
    assert len(all_traces(client, run_id=run.info.run_id)) == 4


async def _slow(input: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
    await anyio.sleep(5)
    output = ModelOutput.from_content("mockllm/model", "late")
    output.usage = usage()
    return output


def test_a_sample_stopped_by_a_limit_leaves_no_span_open(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri, tracing=True, writer="thread")
    task = Task(dataset=[Sample(input="hi", target="x")], solver=generate(), scorer=match())
    logs = eval(
        task,
        model="mockllm/model",
        model_args={"custom_outputs": _slow},
        time_limit=1,
        log_dir=str(tmp_path / "logs"),
    )
    assert logs[0].samples is not None and logs[0].samples[0].limit is not None
    (trace,) = all_traces(MlflowClient(tracking_uri))
    (root,) = [s for s in trace.data.spans if s.parent_id is None]
    assert root.attributes["inspect.limit"].startswith("time")
    for span in trace.data.spans:
        assert span.end_time_ns is not None
        assert root.start_time_ns <= span.start_time_ns <= span.end_time_ns <= root.end_time_ns
    (model,) = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert model.status.status_code == "ERROR"


def test_payloads_are_capped(tmp_path: Path, tracking_uri: str, configure_hooks: Any) -> None:
    configure_hooks(tracking_uri=tracking_uri, tracing=True, writer="thread", trace_max_chars=100)
    long_text = "x" * 5000
    output = ModelOutput.from_content("mockllm/model", long_text)
    output.usage = usage()
    task = Task(
        dataset=[Sample(input="y" * 5000, target="x")], solver=generate(), scorer=includes()
    )
    eval(
        task, model="mockllm/model", model_args={"custom_outputs": [output]}, log_dir=str(tmp_path)
    )
    (trace,) = all_traces(MlflowClient(tracking_uri))
    (model,) = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    content = model.outputs["choices"][0]["message"]["content"]
    assert len(content) == 100 and content.endswith("[truncated]")
    assert len(model.inputs["messages"][0]["content"]) == 100
    assert len(trace.info.request_preview) <= 100
    assert all(len(str(e)) < 2000 for e in (model.inputs, model.outputs))


@pytest.mark.slow
def test_no_trace_is_lost_at_1000_samples(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri, tracing=True)
    output = ModelOutput.from_content("mockllm/model", "5")
    output.usage = usage()
    n = 1000
    task = Task(
        dataset=[Sample(id=i, input=f"Question {i}", target="5") for i in range(n)],
        solver=generate(),
        scorer=match(),
    )
    logs = eval(
        task,
        model="mockllm/model",
        model_args={"custom_outputs": lambda *args: output},
        log_dir=str(tmp_path / "logs"),
        max_connections=100,
        log_samples=False,
    )
    assert logs[0].status == "success"
    # read straight away: everything must be in the store when eval() returns
    db = sqlite3.connect(tracking_uri.removeprefix("sqlite:///"))
    traces = db.execute("select count(*) from trace_info").fetchone()[0]
    spans = db.execute("select trace_id, count(*) from spans group by trace_id").fetchall()
    assessments = db.execute(
        "select trace_id, count(*) from assessments group by trace_id"
    ).fetchall()
    linked = db.execute(
        "select count(*) from trace_request_metadata where key = 'mlflow.sourceRun'"
    ).fetchone()[0]
    db.close()
    assert traces == n
    assert len(spans) == n and {count for _, count in spans} == {7}
    assert len(assessments) == n and {count for _, count in assessments} == {2}
    assert linked == n


def test_eval_set_traces_every_task(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri, tracing=True, writer="thread")
    success, logs = eval_set(
        [traced_agent(n=2), traced_agent(n=3)],
        model="mockllm/model",
        model_args={"custom_outputs": agent_outputs},
        log_dir=str(tmp_path / "logs"),
    )
    assert success
    client = MlflowClient(tracking_uri)
    runs = {r.data.tags["inspect.eval_id"]: r.info.run_id for r in task_runs(client)}
    assert len(runs) == 2
    for log in logs:
        linked = all_traces(client, run_id=runs[log.eval.eval_id])
        assert len(linked) == log.eval.dataset.samples
