"""``MlflowTrackingHooks``: runs, params, metrics and artifact tables for every Inspect task.

Run tree: one parent run per eval set (or per ``eval()`` run outside an eval set) and one
child run per task, named ``<task>/<model>``. The hook only builds records and hands them to
the sink, which writes them from the writer process; it waits for MLflow only at task end
and run end (flush), on a worker thread so the event loop keeps going.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from inspect_ai.hooks import (
    EvalSetEnd,
    EvalSetStart,
    Hooks,
    RunEnd,
    RunStart,
    SampleEnd,
    TaskEnd,
    TaskStart,
)
from inspect_ai.log import EvalLog

from inspect_mlflow._hooks._common import (
    experiment_tags,
    settings_or_raise,
    status_for,
    switched_on,
)
from inspect_mlflow._settings import Settings

if TYPE_CHECKING:
    from inspect_mlflow._records._tables import ArtifactSchema
    from inspect_mlflow._records._task import TaskRecorder
    from inspect_mlflow._sink._ops import StartRun
    from inspect_mlflow._sink._sink import Sink


class MlflowTrackingHooks(Hooks):
    """Log every Inspect task to MLflow as a run (enabled when a tracking URI is configured)."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskRecorder] = {}
        self._task_parent: dict[str, str] = {}
        self._open_parents: dict[str, str] = {}
        """parent key -> worst task status seen under it."""
        self._pending_parents: dict[str, StartRun] = {}
        """Parent runs not written yet: a resumed eval set with nothing to run writes nothing."""

    def enabled(self) -> bool:
        # Inspect asks before every emission (~50 per sample): answer cheaply when nothing is
        # configured, and without re-reading the settings while a tracked run is in progress
        if self._open_parents:
            return True
        return switched_on()[0]

    # ---- run level ----------------------------------------------------------------------

    async def on_eval_set_start(self, data: EvalSetStart) -> None:
        from inspect_mlflow._records._task import parent_key

        self._start_parent(parent_key(data.eval_set_id, ""), data.eval_set_id, None)

    async def on_run_start(self, data: RunStart) -> None:
        from inspect_mlflow._records._task import parent_key

        self._start_parent(parent_key(data.eval_set_id, data.run_id), data.eval_set_id, data.run_id)

    async def on_run_end(self, data: RunEnd) -> None:
        from inspect_mlflow._records._task import parent_key
        from inspect_mlflow._sink._sink import get_sink

        settings = settings_or_raise()
        key = parent_key(data.eval_set_id, data.run_id)
        written = key not in self._pending_parents  # a task started: records were submitted
        logs = {log.eval.eval_id: log for log in data.logs}
        interrupted = data.exception is not None
        for eval_id, recorder in list(self._tasks.items()):
            if recorder.finished or self._task_parent.get(eval_id) != key:
                continue
            # on_task_end never came: the task raised, or the run was interrupted
            log = logs.get(eval_id)
            status = _unfinished_status(log, data.exception)
            interrupted = interrupted or status == "KILLED"
            self._finish_task(get_sink(settings), recorder, log, status)
        if data.exception is not None:
            self._note_status(key, status_for(None, data.exception))
        # An eval set's parent ends at on_eval_set_end, which an interrupted run never reaches.
        if data.eval_set_id is None or interrupted:
            self._end_parent(settings, key)
        if written:
            await anyio.to_thread.run_sync(get_sink(settings).flush)

    async def on_eval_set_end(self, data: EvalSetEnd) -> None:
        from inspect_mlflow._records._task import parent_key
        from inspect_mlflow._sink._sink import get_sink

        settings = settings_or_raise()
        if self._end_parent(settings, parent_key(data.eval_set_id, "")):
            await anyio.to_thread.run_sync(get_sink(settings).flush)

    # ---- task level ---------------------------------------------------------------------

    async def on_task_start(self, data: TaskStart) -> None:
        from inspect_mlflow._records._task import TaskRecorder, parent_key
        from inspect_mlflow._sink._sink import get_sink

        settings = settings_or_raise()
        recorder = TaskRecorder(eval_id=data.eval_id, schema=_schema(settings))
        parent = parent_key(data.eval_set_id, data.run_id)
        self._tasks[data.eval_id] = recorder
        self._task_parent[data.eval_id] = parent
        sink = get_sink(settings)
        pending = self._pending_parents.pop(parent, None)
        if pending is not None:
            sink.submit(pending)
        sink.submit(
            recorder.start(
                data.spec,
                data.plan,
                experiment=settings.experiment_name,
                parent=parent,
                parent_run_id=None,
                run_name_template=settings.run_name_template,
                extra_tags=settings.extra_tags,
                experiment_tags=experiment_tags(settings),
            )
        )

    async def on_sample_end(self, data: SampleEnd) -> None:
        from inspect_mlflow._sink._sink import get_sink

        recorder = self._tasks.get(data.eval_id)
        if recorder is None:
            return
        ops = recorder.sample(data.sample)
        if ops:
            get_sink(settings_or_raise()).submit_all(ops)

    async def on_task_end(self, data: TaskEnd) -> None:
        from inspect_mlflow._sink._sink import get_sink

        recorder = self._tasks.get(data.eval_id)
        if recorder is None:
            return
        sink = get_sink(settings_or_raise())
        self._finish_task(sink, recorder, data.log, status_for(data.log.status))
        await anyio.to_thread.run_sync(sink.flush)

    # ---- helpers ------------------------------------------------------------------------

    def _start_parent(self, key: str, eval_set_id: str | None, run_id: str | None) -> None:
        from inspect_mlflow._records._task import parent_start

        if key in self._open_parents:
            return
        settings = settings_or_raise()
        self._open_parents[key] = "FINISHED"
        self._pending_parents[key] = parent_start(
            eval_set_id,
            run_id or "",
            experiment=settings.experiment_name,
            parent_run_id=settings.parent_run_id,
            extra_tags=settings.extra_tags,
            experiment_tags=experiment_tags(settings),
            parent_run_key=settings.parent_run_key,
        )

    def _end_parent(self, settings: Settings, key: str) -> bool:
        """End a parent run with the worst status of its tasks; False if nothing was written."""
        from inspect_mlflow._records._task import now_ms
        from inspect_mlflow._sink._ops import EndRun
        from inspect_mlflow._sink._sink import get_sink

        status = self._open_parents.pop(key, None)
        if self._pending_parents.pop(key, None) is not None or status is None:
            return False  # no task ever started under it (e.g. a resumed, complete eval set)
        get_sink(settings).submit(EndRun(key=key, status=status, end_time_ms=now_ms()))
        return True

    def _finish_task(
        self, sink: Sink, recorder: TaskRecorder, log: EvalLog | None, status: str
    ) -> None:
        sink.submit_all(recorder.finish(log, status))
        self._note_status(self._task_parent.pop(recorder.eval_id, ""), status)
        self._tasks.pop(recorder.eval_id, None)

    def _note_status(self, key: str, status: str) -> None:
        rank = {"FINISHED": 0, "KILLED": 1, "FAILED": 2}
        current = self._open_parents.get(key)
        if current is not None and rank[status] > rank[current]:
            self._open_parents[key] = status


def _unfinished_status(log: EvalLog | None, exception: BaseException | None) -> str:
    """Status of a task whose ``on_task_end`` never came."""
    if log is not None and log.status in ("success", "error", "cancelled"):
        return status_for(log.status)
    if exception is not None:
        return status_for(None, exception)
    # On asyncio, Ctrl-C reaches on_run_end first with neither logs nor an exception
    # (and again with the CancelledError): a task with no log at all was interrupted.
    return "KILLED" if log is None else "FAILED"


def _schema(settings: Settings) -> ArtifactSchema | None:
    from inspect_mlflow._records._tables import load_schema

    return load_schema(settings.artifact_schema) if settings.log_artifacts else None
