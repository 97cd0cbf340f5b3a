"""MlflowTrackingHooks against real evals and a real SQLite store; values checked against the log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from inspect_ai import Task, eval, eval_set, task
from inspect_ai.dataset import Sample
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate, solver, use_tools
from mlflow import MlflowClient

from tests.helpers import (
    USAGE,
    add,
    all_artifact_text,
    broken,
    runs,
    scripted_agent,
    table,
    task_runs,
)

SECRET = "sk-TOPSECRET-123"


@task
def agent_task(n: int = 3) -> Task:
    return Task(
        dataset=[
            Sample(id=i, input=f"Question {i}: what is 2+3?", target="5") for i in range(1, n + 1)
        ],
        solver=[use_tools(add(), broken()), generate()],
        scorer=[match(), includes()],
    )


# sample 1: right for both scorers; 2: only `includes` accepts it; 3: wrong for both
ANSWERS = {1: "5", 2: "5 is the answer, I think", 3: "no idea"}


def run_agent_eval(log_dir: Path, **model_args: Any) -> EvalLog:
    logs = eval(
        agent_task(),
        model="mockllm/model",
        model_args={"custom_outputs": scripted_agent(ANSWERS), **model_args},
        epochs=2,
        log_dir=str(log_dir),
        display="none",
        temperature=0.3,
        max_tokens=64,
    )
    assert logs[0].status == "success"
    return read_eval_log(logs[0].location)


@pytest.fixture
def live(tmp_path: Path, tracking_uri: str, configure_hooks: Any) -> tuple[MlflowClient, EvalLog]:
    configure_hooks(tracking_uri=tracking_uri)
    log = run_agent_eval(tmp_path / "logs", service_api_key=SECRET, auth_token=SECRET, retries=2)
    return MlflowClient(tracking_uri), log


def expected_metrics(log: EvalLog) -> dict[str, float]:
    """Every summary metric, computed from the .eval log independently of the hooks' code."""
    assert log.results is not None and log.samples is not None
    expected: dict[str, float] = {}
    for score in log.results.scores:
        for metric in score.metrics.values():
            expected[f"{score.name}/{metric.name}"] = float(metric.value)
    expected["samples/total"] = float(log.results.total_samples)
    expected["samples/completed"] = float(log.results.completed_samples)
    expected["samples/errored"] = float(sum(s.error is not None for s in log.samples))
    for model, usage in log.stats.model_usage.items():
        expected[f"tokens/{model}/input"] = usage.input_tokens
        expected[f"tokens/{model}/output"] = usage.output_tokens
        expected[f"tokens/{model}/total"] = usage.total_tokens
    expected["tokens/input"] = sum(u.input_tokens for u in log.stats.model_usage.values())
    expected["tokens/output"] = sum(u.output_tokens for u in log.stats.model_usage.values())
    expected["tokens/total"] = sum(u.total_tokens for u in log.stats.model_usage.values())
    times = np.array([s.total_time for s in log.samples])
    expected["latency/sample/mean"] = float(times.mean())
    expected["latency/sample/p50"] = float(np.percentile(times, 50))
    expected["latency/sample/p95"] = float(np.percentile(times, 95))
    expected["latency/sample/max"] = float(times.max())
    expected["latency/sample/total"] = float(times.sum())
    model_events = {e.uuid: e for s in log.samples for e in s.events if e.event == "model"}
    tool_events = [e for s in log.samples for e in s.events if e.event == "tool"]
    expected["calls/model"] = float(len(model_events))
    expected["calls/tool"] = float(len(tool_events))
    expected["calls/tool_errors"] = float(sum(e.error is not None for e in tool_events))
    return expected


def test_run_tree_params_metrics_and_tables(
    live: tuple[MlflowClient, EvalLog], tracking_uri: str
) -> None:
    client, log = live
    all_runs = runs(client)
    assert len(all_runs) == 2
    parent, child = all_runs
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in parent.data.tags
    assert parent.data.tags["inspect.run_id"] == log.eval.run_id
    assert parent.info.status == child.info.status == "FINISHED"

    # tags
    assert child.info.run_name == "agent_task/mockllm/model"
    tags = child.data.tags
    assert tags["inspect.eval_id"] == log.eval.eval_id
    assert tags["inspect.run_id"] == log.eval.run_id
    assert tags["inspect.task"] == "agent_task"
    assert tags["inspect.model"] == "mockllm/model"
    assert Path(tags["inspect.log_file"]) == Path(log.location)

    # params
    params = child.data.params
    assert params["task"] == "agent_task"
    assert params["model"] == "mockllm/model"
    assert params["task_version"] == "0"
    assert params["task_args.n"] == "3"
    assert params["dataset.samples"] == "3"
    assert params["epochs"] == "2"
    assert params["solver"] == "use_tools, generate"
    assert params["generate.temperature"] == "0.3"
    assert params["generate.max_tokens"] == "64"
    assert params["model_args.retries"] == "2"
    assert params["model_args.service_api_key"] == "<redacted>"
    assert params["model_args.auth_token"] == "<redacted>"

    # summary metrics: every value equals what the .eval log says
    expected = expected_metrics(log)
    assert expected["match/accuracy"] == pytest.approx(1 / 3)
    assert expected["includes/accuracy"] == pytest.approx(2 / 3)
    assert expected["calls/model"] == 18 and expected["calls/tool"] == 12
    assert expected["calls/tool_errors"] == 6
    assert expected["tokens/input"] == 18 * USAGE["input_tokens"]
    metrics = child.data.metrics
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value), name
    assert "cost/total_usd" not in metrics  # mockllm has no cost data

    # per-sample step metrics: one value per sample and epoch, same multiset as the log
    history = client.get_metric_history(child.info.run_id, "sample/match")
    assert sorted(m.step for m in history) == list(range(6))
    assert sorted(m.value for m in history) == sorted(
        1.0 if s.scores["match"].value == "C" else 0.0
        for s in log.samples  # type: ignore[index,union-attr]
    )
    assert len(client.get_metric_history(child.info.run_id, "sample/total_time")) == 6

    # artifact tables: row counts and columns
    assert log.samples is not None
    run_id = child.info.run_id
    samples = table(client, run_id, "inspect/samples.json")
    assert samples["columns"][:2] == ["id", "epoch"]
    assert len(samples["data"]) == 6
    assert sorted((row[0], row[1]) for row in samples["data"]) == sorted(
        (s.id, s.epoch) for s in log.samples
    )
    messages = table(client, run_id, "inspect/messages.json")
    assert "epoch" in messages["columns"]
    assert len(messages["data"]) == sum(len(s.messages) for s in log.samples)
    scores = table(client, run_id, "inspect/sample_scores.json")
    assert len(scores["data"]) == 12 and "epoch" in scores["columns"]
    events = table(client, run_id, "inspect/events.json")
    assert len(events["data"]) == sum(len(s.events) for s in log.samples)
    usage_table = table(client, run_id, "inspect/model_usage.json")
    assert usage_table["data"] == [["mockllm/model", 180, 90, 270, None, None, None, None]]
    tasks = table(client, run_id, "inspect/tasks.json")
    assert len(tasks["data"]) == 1 and tasks["data"][0][0] == log.eval.eval_id
    times = samples["data"][0][samples["columns"].index("total_time")]
    assert isinstance(times, float)

    # the UI's view of tables: listed in the run's tag, readable with MLflow's own reader
    import json

    listed = json.loads(child.data.tags["mlflow.loggedArtifacts"])
    assert {entry["path"] for entry in listed if entry["type"] == "table"} == {
        f"inspect/{name}.json"
        for name in ("tasks", "samples", "messages", "sample_scores", "events", "model_usage")
    }
    experiment_id = child.info.experiment_id
    frame = MlflowClient(tracking_uri).load_table(
        experiment_id, "inspect/sample_scores.json", run_ids=[run_id]
    )
    assert list(frame.columns) == scores["columns"] and len(frame) == 12
    assert sorted(frame["value"].tolist()) == sorted(row[3] for row in scores["data"])


def test_secrets_never_reach_mlflow(live: tuple[MlflowClient, EvalLog]) -> None:
    client, _ = live
    for run in runs(client):
        assert SECRET not in repr(run.data.params)
        assert SECRET not in repr(run.data.tags)
        assert SECRET not in all_artifact_text(client, run.info.run_id)


def test_backfill_gives_the_same_content_and_never_duplicates(
    live: tuple[MlflowClient, EvalLog], tmp_path: Path, store_template: Path
) -> None:
    import shutil

    from inspect_mlflow import log_eval_log

    client, log = live
    live_run = task_runs(client)[0]
    other = tmp_path / "backfill.db"
    shutil.copy(store_template, other)
    uri = f"sqlite:///{other}"
    run_id = log_eval_log(log.location, tracking_uri=uri)
    again = log_eval_log(log.location, tracking_uri=uri)
    assert again == run_id
    backfill_client = MlflowClient(uri)
    assert len(runs(backfill_client)) == 2  # parent + task, logged twice, stored once
    backfilled = backfill_client.get_run(run_id)
    assert backfilled.data.params == live_run.data.params
    assert backfilled.data.metrics.keys() == live_run.data.metrics.keys()
    for name, value in live_run.data.metrics.items():
        if not name.startswith("sample/"):  # step metrics: last value depends on completion order
            assert backfilled.data.metrics[name] == pytest.approx(value), name
    for artifact in ("samples", "messages", "sample_scores", "events", "model_usage", "tasks"):
        live_table = table(client, live_run.info.run_id, f"inspect/{artifact}.json")
        backfill_table = table(backfill_client, run_id, f"inspect/{artifact}.json")
        assert backfill_table["columns"] == live_table["columns"]
        assert sorted(map(repr, backfill_table["data"])) == sorted(map(repr, live_table["data"]))
    assert len(backfill_client.get_metric_history(run_id, "sample/match")) == 6


@solver
def explode_on_sample_2() -> Any:
    async def solve(state: Any, generate: Any) -> Any:
        if state.sample_id == 2:
            raise RuntimeError("sample 2 exploded")
        return state

    return solve


def test_task_with_erroring_samples_ends_failed_with_partial_metrics(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri)
    failing = Task(
        dataset=[Sample(id=i, input=f"Question {i}", target="5") for i in range(1, 4)],
        solver=[explode_on_sample_2(), use_tools(add(), broken()), generate()],
        scorer=match(),
        name="failing_task",
    )
    logs = eval(
        failing,
        model="mockllm/model",
        model_args={"custom_outputs": scripted_agent(ANSWERS)},
        log_dir=str(tmp_path / "logs"),
        display="none",
        max_samples=1,
    )
    assert logs[0].status == "error"
    client = MlflowClient(tracking_uri)
    parent, child = runs(client)
    assert child.info.status == "FAILED"
    assert parent.info.status == "FAILED"
    metrics = child.data.metrics
    assert metrics["samples/total"] == 3.0
    assert "sample 2 exploded" in child.data.tags["inspect.error"]
    # what finished before the failure cancelled the rest is still there, as in the log
    full = read_eval_log(logs[0].location)
    assert full.samples is not None
    finished = [s for s in full.samples if s.error is None]
    assert [s.id for s in finished] == [1]  # one at a time: sample 1 ran before the failure
    assert metrics["samples/completed"] == 1.0
    assert metrics["samples/errored"] == float(len(full.samples) - 1)
    assert len(client.get_metric_history(child.info.run_id, "sample/match")) == len(finished)
    assert len(table(client, child.info.run_id, "inspect/samples.json")["data"]) == len(
        full.samples
    )


@task
def simple_task(name_suffix: str = "a") -> Task:
    return Task(
        dataset=[
            Sample(id=i, input=f"Question {i}: what is 2+3?", target="5") for i in range(1, 4)
        ],
        solver=[use_tools(add(), broken()), generate()],
        scorer=match(),
        name=f"simple_{name_suffix}",
    )


def test_eval_set_logs_everything_from_header_only_logs_and_resumes_without_duplicates(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri)
    log_dir = tmp_path / "set"

    def run_set() -> list[EvalLog]:
        ok, logs = eval_set(
            [simple_task("a"), simple_task("b")],
            log_dir=str(log_dir),
            model="mockllm/model",
            model_args={"custom_outputs": scripted_agent(ANSWERS)},
            display="none",
        )
        assert ok
        return logs

    logs = run_set()
    client = MlflowClient(tracking_uri)
    parents = [r for r in runs(client) if "inspect.eval_id" not in r.data.tags]
    children = task_runs(client)
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert parent.data.tags["inspect.eval_set_id"] == logs[0].eval.eval_set_id
    assert parent.info.status == "FINISHED"
    by_task = {run.data.tags["inspect.task"]: run for run in children}
    for header in logs:
        full = read_eval_log(header.location)
        run = by_task[full.eval.task]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["inspect.eval_set_id"] == full.eval.eval_set_id
        for name, value in expected_metrics(full).items():
            assert run.data.metrics[name] == pytest.approx(value), name
        assert len(client.get_metric_history(run.info.run_id, "sample/match")) == 3

    from inspect_mlflow._sink import _sink

    _sink.close_sink()
    configure_hooks(tracking_uri=tracking_uri, tracing=True)
    run_set()  # everything is complete: resumes, logs nothing new
    assert len(runs(client)) == 3
    assert _sink._sink is None  # and no hook even started the writer


def test_simulated_model_cost_and_reproducible_answers(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri)
    model_args = {"accuracy": 0.5, "seed": 7, "input_cost": 3.0, "output_cost": 15.0}

    def scores(log_dir: str) -> tuple[list[Any], EvalLog]:
        log = eval(
            "inspect_mlflow/arithmetic",
            model="simulated/demo",
            model_args=model_args,
            task_args={"samples": 12},
            epochs=2,
            log_dir=log_dir,
            display="none",
        )[0]
        full = read_eval_log(log.location)
        assert full.samples is not None
        return [(s.id, s.epoch, s.scores["match"].value) for s in full.samples], full  # type: ignore[index]

    first, log = scores(str(tmp_path / "one"))
    second, _ = scores(str(tmp_path / "two"))
    assert first == second  # seeded per model, sample and epoch
    values = [value for _, _, value in first]
    assert 0 < values.count("C") < len(values)
    usage = log.stats.model_usage["simulated/demo"]
    expected_cost = (usage.input_tokens * 3.0 + usage.output_tokens * 15.0) / 1_000_000
    assert usage.total_cost == pytest.approx(expected_cost)
    client = MlflowClient(tracking_uri)
    run = task_runs(client)[0]
    assert run.data.metrics["cost/total_usd"] == pytest.approx(expected_cost)
    assert run.data.metrics["cost/simulated/demo/usd"] == pytest.approx(expected_cost)
    samples = table(client, run.info.run_id, "inspect/samples.json")
    costs = [row[samples["columns"].index("total_cost")] for row in samples["data"]]
    assert all(isinstance(c, float) for c in costs)
    assert sum(costs) == pytest.approx(expected_cost)


def test_nothing_is_written_when_disabled(
    tmp_path: Path, tracking_uri: str, configure_hooks: Any
) -> None:
    configure_hooks(tracking_uri=tracking_uri, enabled=False)
    run_agent_eval(tmp_path / "logs")
    assert runs(MlflowClient(tracking_uri)) == []
    configure_hooks()  # no tracking URI configured: the hooks stay off
    run_agent_eval(tmp_path / "logs")
    assert runs(MlflowClient(tracking_uri)) == []
    assert not (tmp_path / "mlruns").exists()
