"""Provider autolog: switched on per provider, restored afterwards, spans inside the sample trace.

The end-to-end test drives Inspect's OpenAI provider (the real ``openai`` SDK, patched by
MLflow's real ``mlflow.openai`` autolog) against a tiny chat-completions stub on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import mlflow
import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate
from mlflow import MlflowClient
from mlflow.utils.autologging_utils import get_autologging_config

from inspect_mlflow import Settings
from inspect_mlflow._autolog import AutologSession, resolve_providers
from tests.tracing.support import all_traces


def autolog_on(flavor: str) -> bool:
    return get_autologging_config(flavor, "disable", True) is False


def test_providers_need_both_the_sdk_and_the_flavor() -> None:
    chosen, skipped = resolve_providers(())
    assert "bedrock" in chosen  # boto3 comes with MLflow
    assert skipped == []  # providers without an SDK are left out silently
    chosen, skipped = resolve_providers(("anthropic", "nonsense", "OpenAI"))
    assert "anthropic" not in chosen
    assert any(s.startswith("nonsense: not a supported provider") for s in skipped)
    assert any(s.startswith("anthropic: the anthropic package is not installed") for s in skipped)


def test_autolog_is_switched_on_and_restored(tracking_uri: str) -> None:
    pytest.importorskip("openai")
    before = mlflow.get_tracking_uri()
    settings = Settings(
        tracking_uri=tracking_uri, tracing=True, autolog_enabled=True, autolog_models=("openai",)
    )
    assert not autolog_on("openai")
    session = AutologSession.start(settings)
    try:
        assert session.enabled == ["openai"] and autolog_on("openai")
        assert mlflow.get_tracking_uri() == tracking_uri
    finally:
        session.stop()
    assert not autolog_on("openai")
    assert mlflow.get_tracking_uri() == before

    # a provider the user switched on stays on, with the user's configuration
    mlflow.openai.autolog(log_traces=True)
    try:
        session = AutologSession.start(settings)
        assert session.enabled == [] and session.user_enabled == ["openai"]
        session.stop()
        assert autolog_on("openai")
    finally:
        mlflow.openai.autolog(disable=True)


class _ChatStub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "5"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def chat_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ChatStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_provider_spans_land_in_the_sample_trace(
    tmp_path: Path,
    tracking_uri: str,
    configure_hooks: Any,
    chat_stub: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("openai")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    configure_hooks(
        tracking_uri=tracking_uri,
        tracing=True,
        autolog_enabled=True,
        autolog_models=("openai",),
        writer="thread",
    )
    task = Task(
        dataset=[Sample(id=i, input=f"2+{i}?", target="5") for i in range(2)],
        solver=generate(),
        scorer=match(),
    )
    logs = eval(task, model="openai/gpt-4o-mini", model_base_url=chat_stub, log_dir=str(tmp_path))
    assert logs[0].status == "success"
    assert not autolog_on("openai")  # switched off again at the end of the run
    traces = all_traces(MlflowClient(tracking_uri))
    assert len(traces) == 2
    for trace in traces:
        by_id = {s.span_id: s for s in trace.data.spans}
        (root,) = [s for s in trace.data.spans if s.parent_id is None]
        ours = [s for s in trace.data.spans if s.name == "openai/gpt-4o-mini"]
        provider = [s for s in trace.data.spans if s.name not in {"openai/gpt-4o-mini"}]
        autologged = [s for s in provider if s.span_type == "CHAT_MODEL"]
        assert len(ours) == 1 and len(autologged) == 1
        assert by_id[autologged[0].parent_id] is root
        assert autologged[0].outputs["choices"][0]["message"]["content"] == "5"
        # the sample's usage is counted once (Inspect's), not again for the provider span
        assert trace.info.token_usage["total_tokens"] == 12
        assert {a.name for a in trace.info.assessments} == {"match", "expected_response"}
        assert trace.info.tags["inspect.sample_uuid"]
