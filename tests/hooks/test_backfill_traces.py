"""Backfill with tracing on: a finished log gets the traces the live hooks would have written."""

from __future__ import annotations

import shutil
from pathlib import Path

from inspect_ai.log import read_eval_log
from mlflow import MlflowClient

from inspect_mlflow import Settings, log_eval_log
from tests.helpers import task_runs
from tests.hooks.test_tracking import run_agent_eval
from tests.tracing.support import all_traces


def test_backfilled_traces_match_the_samples_and_never_duplicate(
    tmp_path: Path, store_template: Path, monkeypatch: object
) -> None:
    log = run_agent_eval(tmp_path / "logs")  # hooks off: nothing reaches MLflow live
    db = tmp_path / "mlflow.db"
    shutil.copy(store_template, db)
    uri = f"sqlite:///{db}"
    settings = Settings(tracking_uri=uri, tracing=True)

    run_id = log_eval_log(log.location, settings=settings)
    log_eval_log(log.location, settings=settings)  # again: nothing new

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("inspect_ai")
    assert experiment is not None
    assert experiment.tags["mlflow.experimentKind"] == "genai_development"
    (run,) = task_runs(client)
    assert run.info.run_id == run_id
    traces = all_traces(client, run_id=run_id)
    full = read_eval_log(log.location)
    assert full.samples is not None
    assert sorted(t.info.tags["inspect.sample_uuid"] for t in traces) == sorted(
        s.uuid for s in full.samples if s.uuid
    )
    for trace in traces:
        feedback = {a.name for a in trace.info.assessments if a.feedback is not None}
        assert feedback == {"match", "includes"}
        assert any(s.span_type == "CHAT_MODEL" for s in trace.data.spans)
