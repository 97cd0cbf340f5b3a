"""MlflowTracingHooks against real evals and a real SQLite store; checked against the .eval log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog, EvalSample, read_eval_log
from mlflow import MlflowClient
from mlflow.entities import Trace
from mlflow.tracing.constant import SpanAttributeKey, TraceMetadataKey, TraceTagKey

from inspect_mlflow import Settings, configure
from inspect_mlflow._records import _traces as records
from inspect_mlflow._records._traces import trace_id_for
from tests.helpers import USAGE, task_runs
from tests.tracing.support import (
    ERRORING_SAMPLE,
    SECRET,
    agent_outputs,
    all_traces,
    copy_store,
    traced_agent,
    working_dir,
)

EPOCHS = 2


@dataclass
class Traced:
    client: MlflowClient
    log: EvalLog
    traces: list[Trace]
    run_id: str

    def trace_of(self, sample: EvalSample) -> Trace:
        assert sample.uuid is not None
        wanted = trace_id_for(sample.uuid)
        return next(t for t in self.traces if t.info.trace_id == wanted)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Iterator[Traced]:
    """One eval with both hooks (tracking and tracing), through the writer process."""
    directory = tmp_path_factory.mktemp("traced")
    uri = copy_store(store_template, directory)
    configure(Settings(tracking_uri=uri, tracing=True))
    try:
        with working_dir(directory):
            logs = eval(
                traced_agent(),
                model="mockllm/model",
                model_args={"custom_outputs": agent_outputs},
                epochs=EPOCHS,
                fail_on_error=False,
                log_dir=str(directory / "logs"),
                display="none",
            )
        # nothing is waited for after eval() returns: the traces must already be there
        client = MlflowClient(uri)
        (run,) = task_runs(client)
        traces = all_traces(client)
    finally:
        configure(None)
    log = read_eval_log(logs[0].location)
    yield Traced(client, log, traces, run.info.run_id)


def spans_by_name(trace: Trace) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for span in trace.data.spans:
        out.setdefault(span.name, []).append(span)
    return out


def test_one_trace_per_sample_and_epoch_linked_to_the_task_run(traced: Traced) -> None:
    log = traced.log
    assert log.samples is not None and len(log.samples) == 4 * EPOCHS
    assert len(traced.traces) == len(log.samples)
    linked = all_traces(traced.client, run_id=traced.run_id)
    assert {t.info.trace_id for t in linked} == {t.info.trace_id for t in traced.traces}
    experiment = traced.client.get_experiment_by_name("inspect_ai")
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "genai_development"
    for sample in log.samples:
        info = traced.trace_of(sample).info
        assert info.tags[TraceTagKey.TRACE_NAME] == f"traced_agent/{sample.id}/epoch {sample.epoch}"
        assert info.tags["inspect.eval_id"] == log.eval.eval_id
        assert info.tags["inspect.sample_id"] == str(sample.id)
        assert info.tags["inspect.epoch"] == str(sample.epoch)
        assert info.tags["inspect.sample_uuid"] == sample.uuid
        assert info.tags["inspect.model"] == "mockllm/model"
        assert info.trace_metadata[TraceMetadataKey.SOURCE_RUN] == traced.run_id
        assert info.request_preview == sample.input
        if sample.error is None:
            assert info.response_preview == sample.output.completion


def test_span_tree_mirrors_inspect_spans(traced: Traced) -> None:
    assert traced.log.samples is not None
    for sample in traced.log.samples:
        if sample.error is not None:
            continue
        trace = traced.trace_of(sample)
        spans = spans_by_name(trace)
        by_id = {s.span_id: s for s in trace.data.spans}

        def parent(span: Any, by_id: dict[str, Any] = by_id) -> str:
            return str(by_id[span.parent_id].name)

        (root,) = [s for s in trace.data.spans if s.parent_id is None]
        assert (root.name, root.span_type) == ("sample", "CHAIN")
        assert {parent(s) for s in spans["solvers"] + spans["scorers"] + spans["init"]} == {
            "sample"
        }
        assert [parent(s) for s in spans["use_tools"] + spans["generate"]] == ["solvers"] * 2
        models = spans["mockllm/model"]
        assert len(models) == 3
        assert {(s.span_type, parent(s)) for s in models} == {("CHAT_MODEL", "generate")}
        (add_span,) = spans["add"]
        (broken_span,) = spans["broken"]
        assert {(s.span_type, parent(s)) for s in (add_span, broken_span)} == {("TOOL", "generate")}
        assert [(s.span_type, parent(s)) for s in spans["match"] + spans["includes"]] == [
            ("EVALUATOR", "scorers")
        ] * 2
        assert len(trace.data.spans) == 13
        # every span closed, inside its parent, and timed with Inspect's own timestamps
        for span in trace.data.spans:
            assert span.end_time_ns is not None and span.end_time_ns >= span.start_time_ns
            if span.parent_id is not None:
                outer = by_id[span.parent_id]
                assert outer.start_time_ns <= span.start_time_ns
                assert span.end_time_ns <= outer.end_time_ns
        for name in ("sample", "solvers", "generate", "scorers"):
            assert spans[name][0].end_time_ns > spans[name][0].start_time_ns, name
        events = [e for e in sample.events if e.event == "model"]
        assert sorted(s.start_time_ns for s in models) == sorted(
            records._ns(e.timestamp) for e in {e.uuid: e for e in events}.values()
        )
        assert sorted(s.end_time_ns for s in models) == sorted(
            records._ns(e.completed) for e in {e.uuid: e for e in events}.values()
        )


def test_llm_and_tool_span_contents(traced: Traced) -> None:
    assert traced.log.samples is not None
    sample = next(s for s in traced.log.samples if s.id == 1)
    trace = traced.trace_of(sample)
    spans = spans_by_name(trace)
    models = sorted(spans["mockllm/model"], key=lambda s: s.start_time_ns)
    for span in models:
        assert span.attributes[SpanAttributeKey.CHAT_USAGE] == USAGE
        assert span.attributes[SpanAttributeKey.MODEL] == "mockllm/model"
        assert span.attributes[SpanAttributeKey.MODEL_PROVIDER] == "mockllm"
        assert span.status.status_code == "OK"
    first, _, last = models
    assert first.inputs["messages"] == [{"role": "user", "content": "Question 1: what is 2+3?"}]
    assert first.inputs["tools"] == ["add", "broken", "explode"]
    call = first.outputs["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "add"
    assert SECRET not in json.dumps(trace.to_dict())
    assert last.outputs["choices"][0]["message"]["content"] == "5"
    assert [m["role"] for m in last.inputs["messages"]] == [
        "user", "assistant", "tool", "assistant", "tool"
    ]  # fmt: skip
    assert trace.info.token_usage == {
        "input_tokens": 3 * USAGE["input_tokens"],
        "output_tokens": 3 * USAGE["output_tokens"],
        "total_tokens": 3 * USAGE["total_tokens"],
    }
    (add_span,) = spans["add"]
    assert add_span.inputs == {"a": 2, "b": 3, "api_key": "<redacted>"}
    assert add_span.outputs == "5"
    assert add_span.status.status_code == "OK"
    assert add_span.attributes[SpanAttributeKey.FUNCTION_NAME] == "add"
    (broken_span,) = spans["broken"]
    assert broken_span.status.status_code == "ERROR"
    assert "broken tool" in broken_span.status.description
    assert trace.info.state == "OK"


def test_scores_become_assessments_and_the_target_an_expectation(traced: Traced) -> None:
    assert traced.log.samples is not None
    for sample in traced.log.samples:
        trace = traced.trace_of(sample)
        assessments = {a.name: a for a in trace.info.assessments}
        expectation = assessments.pop("expected_response")
        assert expectation.value == "5"
        if sample.error is not None:
            assert assessments == {}
            continue
        assert sample.scores is not None
        assert set(assessments) == {"match", "includes"}
        for scorer, score in sample.scores.items():
            feedback = assessments[scorer]
            assert feedback.value == (1.0 if score.value == "C" else 0.0)
            assert feedback.rationale == score.explanation
            assert feedback.source.source_type == "CODE"
            assert feedback.source.source_id == f"inspect_ai/{scorer}"
        evaluator = spans_by_name(trace)["match"][0]
        assert evaluator.outputs["value"] == sample.scores["match"].value


def test_an_erroring_sample_gives_an_error_trace(traced: Traced) -> None:
    assert traced.log.samples is not None
    errored = [s for s in traced.log.samples if s.error is not None]
    assert [s.id for s in errored] == [ERRORING_SAMPLE] * EPOCHS
    for sample in errored:
        trace = traced.trace_of(sample)
        assert trace.info.state == "ERROR"
        (root,) = [s for s in trace.data.spans if s.parent_id is None]
        assert root.status.status_code == "ERROR"
        assert "kaboom" in root.status.description
        assert any("kaboom" in str(e.attributes) for e in root.events)
        assert all(s.end_time_ns is not None for s in trace.data.spans)


def test_record_keys_are_mlflows() -> None:
    assert records.REQUEST_ID == SpanAttributeKey.REQUEST_ID
    assert records.SPAN_TYPE == SpanAttributeKey.SPAN_TYPE
    assert records.SPAN_INPUTS == SpanAttributeKey.INPUTS
    assert records.SPAN_OUTPUTS == SpanAttributeKey.OUTPUTS
    assert records.CHAT_USAGE == SpanAttributeKey.CHAT_USAGE
    assert records.LLM_COST == SpanAttributeKey.LLM_COST
    assert records.LLM_MODEL == SpanAttributeKey.MODEL
    assert records.LLM_PROVIDER == SpanAttributeKey.MODEL_PROVIDER
    assert records.FUNCTION_NAME == SpanAttributeKey.FUNCTION_NAME
    assert records.TRACE_NAME == TraceTagKey.TRACE_NAME
    assert records.TOKEN_USAGE == TraceMetadataKey.TOKEN_USAGE
    assert records.TRACE_COST == TraceMetadataKey.COST
    assert records.TRACE_INPUTS == TraceMetadataKey.INPUTS
    assert records.TRACE_OUTPUTS == TraceMetadataKey.OUTPUTS
