"""Map one finished Inspect sample to one MLflow trace, as plain data.

The trace is built from ``EvalSample.events`` once the sample has finished, so every span has
Inspect's own start and end times and nothing is ever left open. The result is a dict of
JSON-compatible values (no MLflow import here): it crosses the pipe to the writer process,
which turns it into MLflow entities. Spans are already in the shape of MLflow's
``Span.to_dict()`` (base64 ids, JSON-encoded attribute values), so the writer can use
``Span.from_dict`` on them unchanged.

Span tree (mirrors Inspect's own spans)::

    sample (CHAIN)
    ├── init (CHAIN)
    ├── solvers (CHAIN)
    │   └── <solver> (CHAIN)
    │       ├── <model> (CHAT_MODEL)   one per model call
    │       └── <tool> (TOOL)          one per tool call (Inspect's tool span + ToolEvent)
    └── scorers (CHAIN)
        └── <scorer> (EVALUATOR)       Inspect's scorer span + its ScoreEvent

Ids are derived from the sample ``uuid``, so logging the same sample twice gives the same
trace and span ids (the writer skips traces that already exist).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from inspect_ai.event import (
    ErrorEvent,
    InfoEvent,
    LoggerEvent,
    ModelEvent,
    SandboxEvent,
    ScoreEvent,
    SpanBeginEvent,
    SpanEndEvent,
    ToolEvent,
)
from inspect_ai.log import EvalSample
from inspect_ai.model import ChatMessage, ModelOutput, ModelUsage
from inspect_ai.scorer import Score

from inspect_mlflow._records._redact import redact
from inspect_mlflow._records._values import TAG_VALUE_LIMIT, to_jsonable, truncate

# MLflow's attribute and metadata keys (mlflow.tracing.constant), spelled out so that this
# module does not import MLflow; tests check them against MLflow's constants.
REQUEST_ID = "mlflow.traceRequestId"
SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
CHAT_USAGE = "mlflow.chat.tokenUsage"
LLM_COST = "mlflow.llm.cost"
LLM_MODEL = "mlflow.llm.model"
LLM_PROVIDER = "mlflow.llm.provider"
FUNCTION_NAME = "mlflow.spanFunctionName"
TRACE_NAME = "mlflow.traceName"
TOKEN_USAGE = "mlflow.trace.tokenUsage"
TRACE_COST = "mlflow.trace.cost"
TRACE_INPUTS = "mlflow.traceInputs"
TRACE_OUTPUTS = "mlflow.traceOutputs"
SCHEMA_VERSION = "mlflow.trace_schema.version"

PREVIEW_LIMIT = 1000
"""MLflow stores request/response previews in 1000-character columns."""
METADATA_LIMIT = 250
"""Trace metadata values MLflow guarantees on every backend."""
INPUT_BUDGET_FACTOR = 4
"""An LLM span keeps the most recent input messages up to this many times ``max_chars``."""

_STATUS = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR"}
_SPAN_TYPES = {
    "tool": "TOOL",
    "agent": "AGENT",
    "handoff": "AGENT",
    "scorer": "EVALUATOR",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ATTACHMENT = "attachment://"


@dataclass(frozen=True)
class TraceContext:
    """What a trace needs to know about its task (the sample itself does not say)."""

    eval_id: str
    run_id: str
    task: str
    model: str
    experiment: str
    max_chars: int = 20_000
    extra_tags: dict[str, str] = field(default_factory=dict)


def trace_id_for(sample_uuid: str) -> str:
    """MLflow trace id (``tr-`` + 32 hex digits) of the sample with this ``uuid``."""
    return "tr-" + hashlib.sha256(f"inspect:{sample_uuid}".encode()).digest()[:16].hex()


def root_span_id_for(trace_id: str) -> int:
    """Span id of the ``sample`` span of a trace (provider autolog spans nest under it)."""
    return _span_id(trace_id[3:], "root")


def sample_trace(sample: EvalSample, context: TraceContext) -> dict[str, Any]:
    """The MLflow trace of one finished sample (see the module docstring for the shape)."""
    return _TraceBuilder(sample, context).build()


# ---- building ------------------------------------------------------------------------------


@dataclass
class _Span:
    span_id: int
    parent_id: int | None
    name: str
    span_type: str
    start_ns: int
    end_ns: int | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    inspect_type: str | None = None
    merged: bool = False
    """An Inspect tool or scorer span that already took its ToolEvent or ScoreEvent."""


class _TraceBuilder:
    def __init__(self, sample: EvalSample, context: TraceContext) -> None:
        self.sample = sample
        self.context = context
        self.cap = context.max_chars
        key = sample.uuid or f"{context.eval_id}:{sample.id}:{sample.epoch}"
        self.trace_id = trace_id_for(key)
        self.trace_hex = self.trace_id[3:]
        self.spans: list[_Span] = []
        self.by_inspect_id: dict[str, _Span] = {}
        self.tool_spans: dict[tuple[int, str], list[_Span]] = {}
        """Inspect tool spans waiting for their ToolEvent, by (parent span id, function)."""
        self.usage: dict[str, int] = {}
        self.cost: float | None = None
        start = _ns(sample.started_at) or _first_timestamp(sample)
        self.root = self._span("sample", "CHAIN", None, start, key="root")
        self.root.end_ns = _ns(sample.completed_at)

    # ---- entry point -------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        seen_models: set[str] = set()
        for event in self.sample.events or []:
            if isinstance(event, SpanBeginEvent):
                self._span_begin(event)
            elif isinstance(event, SpanEndEvent):
                span = self.by_inspect_id.get(event.id)
                if span is not None:
                    span.end_ns = max(span.end_ns or 0, _ns(event.timestamp) or 0) or None
            elif isinstance(event, ModelEvent):
                # a completed model event can be recorded twice: keep one
                if event.uuid is not None:
                    if event.uuid in seen_models:
                        continue
                    seen_models.add(event.uuid)
                self._model(event)
            elif isinstance(event, ToolEvent):
                self._tool(event)
            elif isinstance(event, ScoreEvent):
                self._score(event)
            elif isinstance(event, ErrorEvent):
                self._exception(self.root, event.error.message, event.timestamp)
            elif isinstance(event, (InfoEvent, LoggerEvent, SandboxEvent)):
                self._note(event)
        self._finish_root()
        return self._trace()

    # ---- events ------------------------------------------------------------------------

    def _span_begin(self, event: SpanBeginEvent) -> None:
        parent = self.by_inspect_id.get(event.parent_id or "", self.root)
        span_type = _SPAN_TYPES.get(event.type or "", "CHAIN")
        span = self._span(event.name, span_type, parent, _ns(event.timestamp), key=event.id)
        span.inspect_type = event.type
        self.by_inspect_id[event.id] = span
        if event.type == "tool":
            self.tool_spans.setdefault((parent.span_id, event.name), []).append(span)

    def _model(self, event: ModelEvent) -> None:
        parent = self._parent(event.span_id)
        start = _ns(event.timestamp)
        span = self._span(event.model, "CHAT_MODEL", parent, start, key=event.uuid)
        span.end_ns = _ns(event.completed)
        if span.end_ns is None and event.working_time is not None and start is not None:
            span.end_ns = start + int(event.working_time * 1e9)
        span.inputs = {
            "messages": self._messages(event.input),
            **({"tools": [tool.name for tool in event.tools]} if event.tools else {}),
        }
        config = event.config.model_dump(exclude_none=True)
        if config:
            span.attributes["inspect.generate_config"] = redact(config)
        output = event.output
        span.outputs = self._completion(output)
        span.attributes[LLM_MODEL] = output.model or event.model
        if "/" in event.model:
            span.attributes[LLM_PROVIDER] = event.model.split("/", 1)[0]
        if event.role:
            span.attributes["inspect.model_role"] = event.role
        if event.cache:
            span.attributes["inspect.cache"] = event.cache
        if event.retries:
            span.attributes["inspect.retries"] = event.retries
        if event.working_time is not None:
            span.attributes["inspect.working_time"] = event.working_time
        if output.usage is not None:
            self._usage(span, output.usage)
        error = event.error or output.error
        if error:
            span.error = truncate(error, self.cap)
        elif event.pending:
            span.error = "model call did not complete"

    def _tool(self, event: ToolEvent) -> None:
        parent = self._parent(event.span_id)
        # Inspect records each call as a "tool" span (holding what the tool did) and a ToolEvent
        # in the enclosing span: make them one TOOL span
        span: _Span | None
        if parent.inspect_type == "tool" and parent.name == event.function and not parent.merged:
            span = parent  # the event was recorded inside its own tool span
            siblings = self.tool_spans.get((parent.parent_id or 0, event.function), [])
            if parent in siblings:
                siblings.remove(parent)
        else:
            waiting = self.tool_spans.get((parent.span_id, event.function))
            span = waiting.pop(0) if waiting else None
        start = _ns(event.timestamp)
        end = _ns(event.completed)
        if span is None:
            span = self._span(event.function, "TOOL", parent, start, key=event.uuid or event.id)
        elif start is not None:
            span.start_ns = min(span.start_ns, start)
        span.merged = True
        if end is not None:
            span.end_ns = max(span.end_ns or 0, end)
        span.inputs = redact(to_jsonable(event.arguments))
        span.outputs = truncate(_result_text(event.result), self.cap)
        span.attributes[FUNCTION_NAME] = event.function
        span.attributes["inspect.tool_call_id"] = event.id
        if event.working_time is not None:
            span.attributes["inspect.working_time"] = event.working_time
        if event.agent:
            span.attributes["inspect.agent"] = event.agent
        if event.error is not None:
            span.error = truncate(f"{event.error.type}: {event.error.message}", self.cap)
            span.attributes["inspect.tool_error_type"] = event.error.type

    def _score(self, event: ScoreEvent) -> None:
        span = self.by_inspect_id.get(event.span_id or "")
        name = event.scorer or (span.name if span is not None else "score")
        at = _ns(event.timestamp)
        if span is None or span.inspect_type != "scorer" or span.merged or event.intermediate:
            parent = span or self.root
            label = f"{name} (intermediate)" if event.intermediate else name
            span = self._span(label, "EVALUATOR", parent, at, key=event.uuid)
            span.end_ns = at
        span.merged = True
        span.inputs = {
            "target": truncate(_target_text(event.target), self.cap),
            **({"answer": truncate(event.score.answer, self.cap)} if event.score.answer else {}),
        }
        span.outputs = {
            "value": to_jsonable(event.score.value),
            **(
                {"explanation": truncate(event.score.explanation, self.cap)}
                if event.score.explanation
                else {}
            ),
        }

    def _note(self, event: InfoEvent | LoggerEvent | SandboxEvent) -> None:
        span = self._parent(event.span_id)
        attributes: dict[str, Any]
        if isinstance(event, InfoEvent):
            name = "info"
            attributes = {"data": truncate(_plain_text(event.data), self.cap)}
            if event.source:
                attributes["source"] = event.source
        elif isinstance(event, LoggerEvent):
            name = "log"
            attributes = {
                "level": event.message.level,
                "message": truncate(event.message.message, self.cap),
            }
        else:
            name = f"sandbox.{event.action}"
            attributes = {
                key: truncate(str(value), self.cap)
                for key, value in (
                    ("cmd", event.cmd),
                    ("file", event.file),
                    ("result", event.result),
                )
                if value is not None
            }
        span.events.append(
            {"name": name, "time_unix_nano": _ns(event.timestamp) or 0, "attributes": attributes}
        )

    # ---- root and trace ----------------------------------------------------------------

    def _finish_root(self) -> None:
        sample = self.sample
        root = self.root
        ends = [s.end_ns for s in self.spans if s.end_ns is not None]
        starts = [s.start_ns for s in self.spans if s.start_ns]
        root.start_ns = min(starts) if starts else 0
        root.end_ns = max([*ends, root.end_ns or 0]) or root.start_ns
        for span in self.spans:
            # a span Inspect never closed (sample cancelled or failed): close it with the sample
            if span.end_ns is None:
                span.end_ns = root.end_ns
                if sample.error is not None and span.error is None:
                    span.error = "not finished when the sample ended"
            span.start_ns = span.start_ns or root.start_ns
        root.inputs = self._sample_input()
        root.outputs = truncate(sample.output.completion, self.cap) if sample.output else None
        root.attributes["inspect.sample_id"] = str(sample.id)
        root.attributes["inspect.epoch"] = sample.epoch
        if sample.limit is not None:
            root.attributes["inspect.limit"] = f"{sample.limit.type}: {sample.limit.limit}"
        if sample.error is not None:
            root.error = truncate(sample.error.message, self.cap)
            if not any(e["name"] == "exception" for e in root.events):
                self._exception(root, sample.error.message, None)

    def _trace(self) -> dict[str, Any]:
        sample, context = self.sample, self.context
        root = self.root
        sample_id = str(sample.id)
        tags = {
            **context.extra_tags,
            TRACE_NAME: f"{context.task}/{sample_id}/epoch {sample.epoch}",
            "inspect.eval_id": context.eval_id,
            "inspect.run_id": context.run_id,
            "inspect.task": context.task,
            "inspect.model": context.model,
            "inspect.sample_id": sample_id,
            "inspect.epoch": str(sample.epoch),
        }
        if sample.uuid:
            tags["inspect.sample_uuid"] = sample.uuid
        request = _preview(root.inputs)
        response = _preview(root.outputs)
        metadata = {
            SCHEMA_VERSION: "3",
            TRACE_INPUTS: truncate(request, METADATA_LIMIT),
            TRACE_OUTPUTS: truncate(response, METADATA_LIMIT),
        }
        if self.usage:
            metadata[TOKEN_USAGE] = json.dumps(self.usage)
        if self.cost is not None:
            metadata[TRACE_COST] = json.dumps({"total_cost": self.cost})
        completed_ms = (root.end_ns or 0) // 1_000_000
        return {
            "trace_id": self.trace_id,
            "experiment": context.experiment,
            "request_time_ms": (root.start_ns or 0) // 1_000_000,
            "execution_duration_ms": max(
                0, ((root.end_ns or 0) - (root.start_ns or 0)) // 1_000_000
            ),
            "state": "ERROR" if root.error else "OK",
            "request_preview": truncate(request, PREVIEW_LIMIT),
            "response_preview": truncate(response, PREVIEW_LIMIT),
            "tags": {k: truncate(v, TAG_VALUE_LIMIT) for k, v in tags.items()},
            "metadata": metadata,
            "assessments": sample_assessments(sample, self.trace_id, completed_ms, self.cap),
            "spans": [self._span_dict(span) for span in self.spans],
        }

    def _span_dict(self, span: _Span) -> dict[str, Any]:
        attributes: dict[str, Any] = {REQUEST_ID: self.trace_id, SPAN_TYPE: span.span_type}
        if span.inputs is not None:
            attributes[SPAN_INPUTS] = span.inputs
        if span.outputs is not None:
            attributes[SPAN_OUTPUTS] = span.outputs
        attributes.update(span.attributes)
        return {
            "trace_id": _b64(int(self.trace_hex, 16), 16),
            "span_id": _b64(span.span_id, 8),
            "parent_span_id": _b64(span.parent_id, 8) if span.parent_id is not None else None,
            "name": span.name,
            "start_time_unix_nano": span.start_ns,
            "end_time_unix_nano": span.end_ns,
            "events": span.events,
            "status": {
                "code": _STATUS["ERROR" if span.error else "OK"],
                "message": span.error or "",
            },
            # MLflow stores every attribute value JSON-encoded
            "attributes": {
                key: json.dumps(value, ensure_ascii=False, default=str)
                for key, value in attributes.items()
            },
            "links": [],
        }

    # ---- helpers -----------------------------------------------------------------------

    def _span(
        self, name: str, span_type: str, parent: _Span | None, start: int | None, key: str | None
    ) -> _Span:
        span = _Span(
            span_id=self._span_id(key or str(len(self.spans))),
            parent_id=parent.span_id if parent is not None else None,
            name=name,
            span_type=span_type,
            start_ns=start or 0,
        )
        self.spans.append(span)
        return span

    def _span_id(self, key: str) -> int:
        return _span_id(self.trace_hex, key)

    def _parent(self, inspect_span_id: str | None) -> _Span:
        return self.by_inspect_id.get(inspect_span_id or "", self.root)

    def _usage(self, span: _Span, usage: ModelUsage) -> None:
        tokens = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }
        if usage.input_tokens_cache_read:
            tokens["cache_read_input_tokens"] = usage.input_tokens_cache_read
        if usage.input_tokens_cache_write:
            tokens["cache_creation_input_tokens"] = usage.input_tokens_cache_write
        span.attributes[CHAT_USAGE] = tokens
        if usage.reasoning_tokens:
            span.attributes["inspect.reasoning_tokens"] = usage.reasoning_tokens
        for key, value in tokens.items():
            self.usage[key] = self.usage.get(key, 0) + value
        if usage.total_cost is not None and math.isfinite(usage.total_cost):
            span.attributes[LLM_COST] = {"total_cost": usage.total_cost}
            self.cost = (self.cost or 0.0) + usage.total_cost

    def _exception(self, span: _Span, message: str, at: datetime | None) -> None:
        span.events.append(
            {
                "name": "exception",
                "time_unix_nano": _ns(at) or span.end_ns or span.start_ns or 0,
                "attributes": {"exception.message": truncate(message, self.cap)},
            }
        )

    def _sample_input(self) -> Any:
        value = self.sample.input
        if isinstance(value, str):
            return truncate(self._resolve(value), self.cap)
        return {"messages": self._messages(value)}

    def _messages(self, messages: list[ChatMessage]) -> list[dict[str, Any]]:
        """OpenAI-style messages (what MLflow's chat view renders), within the size budget."""
        converted = [self._message(m) for m in messages]
        budget = self.cap * INPUT_BUDGET_FACTOR
        sizes = [len(str(m.get("content", ""))) + 20 for m in converted]
        if sum(sizes) <= budget:
            return converted
        # keep leading system messages and the most recent messages that fit
        head: list[dict[str, Any]] = []
        while converted and converted[0]["role"] == "system" and len(head) < 1:
            head.append(converted.pop(0))
            budget -= sizes.pop(0)
        tail: list[dict[str, Any]] = []
        while converted and sizes[-1] <= budget:
            budget -= sizes.pop()
            tail.insert(0, converted.pop())
        if converted:
            note = {"role": "system", "content": f"[{len(converted)} earlier messages omitted]"}
            return [*head, note, *tail]
        return [*head, *tail]

    def _message(self, message: ChatMessage) -> dict[str, Any]:
        text = truncate(self._resolve(message.text), self.cap)
        out: dict[str, Any] = {"role": message.role, "content": text}
        if message.role == "assistant" and message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {
                        "name": call.function,
                        "arguments": truncate(
                            json.dumps(redact(to_jsonable(call.arguments)), default=str),
                            self.cap,
                        ),
                    },
                }
                for call in message.tool_calls
            ]
        elif message.role == "tool":
            if message.tool_call_id:
                out["tool_call_id"] = message.tool_call_id
            if message.function:
                out["name"] = message.function
            if message.error is not None:
                out["content"] = truncate(
                    f"{message.error.type}: {message.error.message}", self.cap
                )
        return out

    def _completion(self, output: ModelOutput) -> dict[str, Any]:
        choices = []
        for index, choice in enumerate(output.choices):
            choices.append(
                {
                    "index": index,
                    "message": self._message(choice.message),
                    "finish_reason": choice.stop_reason,
                }
            )
        result: dict[str, Any] = {"model": output.model, "choices": choices}
        if output.usage is not None:
            result["usage"] = {
                "prompt_tokens": output.usage.input_tokens,
                "completion_tokens": output.usage.output_tokens,
                "total_tokens": output.usage.total_tokens,
            }
        return result

    def _resolve(self, text: str) -> str:
        if text.startswith(_ATTACHMENT):
            return self.sample.attachments.get(text[len(_ATTACHMENT) :], text)
        return text


# ---- assessments ---------------------------------------------------------------------------

_LETTER_GRADES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}


def sample_assessments(
    sample: EvalSample, trace_id: str, time_ms: int, max_chars: int
) -> list[dict[str, Any]]:
    """One feedback per score (``<scorer>`` or ``<scorer>/<key>``) and the target as expectation."""
    assessments: list[dict[str, Any]] = []
    for scorer, score in (sample.scores or {}).items():
        for name, value, raw in _score_values(scorer, score):
            metadata = {"inspect.scorer": scorer}
            if raw is not None:
                metadata["inspect.value"] = truncate(str(raw), METADATA_LIMIT)
            if score.answer:
                metadata["inspect.answer"] = truncate(score.answer, METADATA_LIMIT)
            assessments.append(
                {
                    "kind": "feedback",
                    "assessment_id": _assessment_id(trace_id, f"feedback:{name}"),
                    "name": name,
                    "value": value,
                    "rationale": truncate(score.explanation, max_chars)
                    if score.explanation
                    else None,
                    "source_type": "CODE",
                    "source_id": f"inspect_ai/{scorer}",
                    "metadata": metadata,
                    "time_ms": time_ms,
                }
            )
    target = _target_value(sample.target)
    if target is not None:
        assessments.append(
            {
                "kind": "expectation",
                "assessment_id": _assessment_id(trace_id, "expectation:expected_response"),
                "name": "expected_response",
                "value": target,
                "rationale": None,
                "source_type": "CODE",
                "source_id": "inspect_ai/dataset",
                "metadata": {},
                "time_ms": time_ms,
            }
        )
    return assessments


def _score_values(scorer: str, score: Score) -> list[tuple[str, Any, Any]]:
    """(name, feedback value, raw value when converted) for one score."""
    value = score.value
    if isinstance(value, dict):
        out: list[tuple[str, Any, Any]] = []
        for key, item in value.items():
            out.extend(_score_values(f"{scorer}/{key}", Score(value=item)))
        return out
    if isinstance(value, bool):
        return [(scorer, value, None)]
    if isinstance(value, (int, float)):
        number = float(value)
        return [
            (
                scorer,
                number if math.isfinite(number) else None,
                None if math.isfinite(number) else value,
            )
        ]
    if isinstance(value, str):
        grade = _LETTER_GRADES.get(value.strip().upper()) if len(value.strip()) == 1 else None
        if grade is not None:
            return [(scorer, grade, value)]
        try:
            number = float(value)
            if math.isfinite(number):
                return [(scorer, number, value)]
        except ValueError:
            pass
        return [(scorer, value, None)]
    return [(scorer, json.dumps(to_jsonable(value), default=str), None)]


def _target_value(target: str | list[str]) -> str | list[str] | None:
    if isinstance(target, list):
        return [str(t) for t in target] if target else None
    return target if target else None


def _assessment_id(trace_id: str, key: str) -> str:
    return "a-" + hashlib.sha256(f"{trace_id}:{key}".encode()).hexdigest()[:32]


# ---- small conversions ---------------------------------------------------------------------


def _ns(value: datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _span_id(trace_hex: str, key: str) -> int:
    digest = hashlib.blake2b(f"{trace_hex}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") or 1


def _first_timestamp(sample: EvalSample) -> int | None:
    for event in sample.events or []:
        return _ns(event.timestamp)
    return None


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode("ascii")


def _preview(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        return "\n".join(f"{m['role']}: {m.get('content', '')}" for m in value["messages"])
    return json.dumps(value, ensure_ascii=False, default=str)


def _plain_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(to_jsonable(value), default=str)


def _result_text(result: Any) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, list):
        return "\n".join(
            getattr(part, "text", None) or f"[{getattr(part, 'type', 'content')}]"
            for part in result
        )
    return _plain_text(result)


def _target_text(target: str | list[str] | None) -> str:
    if target is None:
        return ""
    return target if isinstance(target, str) else json.dumps(target)
