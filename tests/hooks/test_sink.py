"""The writer's requests (``Sink.call``): answered in order with the hooks' records, through
the real writer subprocess and the thread writer, and a writer started ahead of time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from inspect_mlflow import Settings
from inspect_mlflow._sink import _sink
from inspect_mlflow._sink._ops import EndRun, StartRun
from inspect_mlflow._sink._transport import WriterError


@pytest.fixture(autouse=True)
def _no_sink_left() -> Iterator[None]:
    yield
    _sink.close_sink()


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_a_call_sees_every_record_submitted_before_it(tracking_uri: str, writer: str) -> None:
    sink = _sink.get_sink(Settings(tracking_uri=tracking_uri, writer=writer))  # type: ignore[arg-type]
    sink.submit(StartRun(key="task:e1", experiment="calls", name="one",
                         tags={"inspect.eval_id": "e1"}))  # fmt: skip
    sink.submit(EndRun(key="task:e1", status="FINISHED"))
    found = sink.call("task_runs", experiment="calls", eval_ids=["e1", "e2"]).result(120)

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("calls")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert found == {"e1": run.info.run_id}
    assert run.info.status == "FINISHED"

    with pytest.raises(WriterError, match="unknown request 'drop_everything'"):
        sink.call("drop_everything").result(120)
    with pytest.raises(WriterError, match="TypeError"):
        sink.call("task_runs", nonsense=1).result(120)


def test_a_prestarted_writer_is_adopted_by_the_first_sink(tracking_uri: str) -> None:
    _sink.prestart_writer()
    prestarted = _sink._prestarted
    assert prestarted is not None
    sink = _sink.get_sink(Settings(tracking_uri=tracking_uri))
    assert sink._transport is prestarted and _sink._prestarted is None
    sink.submit(StartRun(key="parent", experiment="calls", name="parent"))
    sink.submit(StartRun(key="child", experiment="calls", name="child", parent_key="parent"))
    found = sink.call("task_runs", experiment="calls", eval_ids=[]).result(120)
    assert found == {}
    assert sink.flush(120)

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("calls")
    assert experiment is not None
    runs = {run.info.run_name: run for run in client.search_runs([experiment.experiment_id])}
    assert runs["child"].data.tags["mlflow.parentRunId"] == runs["parent"].info.run_id


def test_calls_fail_cleanly_once_the_writer_has_stopped(tracking_uri: str) -> None:
    sink = _sink.get_sink(Settings(tracking_uri=tracking_uri))
    sink.close()
    with pytest.raises(WriterError, match="stopped"):
        sink.call("task_runs", experiment="calls", eval_ids=["e1"]).result(120)
