"""Against a real ``mlflow server``: traces over HTTP, and what MLflow's UI shows for them."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from inspect_ai import eval
from inspect_ai.log import EvalLog
from mlflow import MlflowClient

from inspect_mlflow import Settings, configure
from inspect_mlflow._records._traces import trace_id_for
from tests.helpers import task_runs
from tests.tracing.support import agent_outputs, all_traces, experiment_id, traced_agent

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Served:
    url: str
    log: EvalLog
    experiment_id: str
    run_id: str


@pytest.fixture(scope="module")
def served(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A small eval with both hooks, written over HTTP by the writer process."""
    configure(Settings(tracking_uri=mlflow_server, tracing=True))
    try:
        logs = eval(
            traced_agent(n=4),
            model="mockllm/model",
            model_args={"custom_outputs": agent_outputs},
            fail_on_error=False,
            log_dir=str(tmp_path_factory.mktemp("served-logs")),
            display="none",
        )
    finally:
        configure(None)
    client = MlflowClient(mlflow_server)
    (run,) = task_runs(client)
    yield Served(mlflow_server, logs[0], experiment_id(client), run.info.run_id)


def test_traces_over_http(served: Served) -> None:
    client = MlflowClient(served.url)
    traces = all_traces(client, run_id=served.run_id)
    assert served.log.samples is not None
    assert {t.info.trace_id for t in traces} == {
        trace_id_for(s.uuid or "") for s in served.log.samples
    }
    for trace in traces:
        names = {a.name for a in trace.info.assessments}
        if trace.info.state == "OK":
            assert names == {"match", "includes", "expected_response"}
            assert len(trace.data.spans) == 13
        else:
            assert names == {"expected_response"}


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def page_text(url: str, profile: Path, wanted: list[str], attempts: int = 3) -> str:
    """Visible text of ``url`` once the JS app has rendered (headless Chromium, virtual time)."""
    binary = _chromium()
    assert binary is not None
    text = ""
    for attempt in range(attempts):
        result = subprocess.run(
            [
                binary,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile / str(attempt)}",
                f"--virtual-time-budget={20_000 * (attempt + 1)}",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        dom = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", result.stdout, flags=re.S)
        text = html.unescape(re.sub(r"<[^>]+>", "\n", dom))
        if all(w in text for w in wanted):
            break
    return text


@pytest.mark.browser
@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed")
def test_the_ui_lists_the_task_run_with_its_traces_and_scores(
    served: Served, tmp_path: Path
) -> None:
    assert served.log.samples is not None
    trace_ids = sorted({trace_id_for(s.uuid or "") for s in served.log.samples})
    questions = [f"Question {i}: what is 2+3?" for i in range(1, 5)]

    # the run's Traces tab: one row per sample and epoch, with the assessment columns
    traces_page = f"{served.url}/#/experiments/{served.experiment_id}/runs/{served.run_id}/traces"
    text = page_text(traces_page, tmp_path / "traces", trace_ids + questions)
    for trace_id in trace_ids:
        assert trace_id in text
    for question in questions:
        assert question in text
    for column in ("match", "includes", "Expected output", "Assessments"):
        assert column in text

    # the experiment's Evaluation runs view lists the task run
    runs_page = f"{served.url}/#/experiments/{served.experiment_id}/evaluation-runs"
    text = page_text(runs_page, tmp_path / "runs", ["traced_agent/mockllm/model"])
    assert "Evaluation runs" in text
    assert "traced_agent/mockllm/model" in text
