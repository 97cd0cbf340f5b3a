"""``MlflowTracingHooks``: one MLflow trace per sample, with scores as assessments.

The trace of a sample is built when the sample ends, from its complete event list (so every
span has Inspect's own start and end times and none is left open), as plain data; traces are
shipped to the writer process in batches and written many per transaction. The eval process
never imports MLflow for this, except for provider autolog, which has to patch the provider
SDKs where they run (see :mod:`inspect_mlflow._autolog`).

With the tracking hook on, traces are linked to the task's run; with it off (tracing alone)
they go to the experiment without a run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from inspect_ai.hooks import (
    Hooks,
    RunEnd,
    RunStart,
    SampleEnd,
    SampleStart,
    TaskEnd,
    TaskStart,
)

from inspect_mlflow._hooks._common import settings_or_raise, switched_on
from inspect_mlflow._settings import Settings

if TYPE_CHECKING:
    from inspect_mlflow._records._traces import TraceContext

logger = logging.getLogger("inspect_mlflow")

TRACES_PER_RECORD = 50
"""Traces per ``LogTraces`` record (the writer stores one record per transaction)."""

EVENTS_INLINE = 400
"""Samples with more events than this get their trace built on a worker thread."""


@dataclass
class _TaskTraces:
    context: TraceContext
    run_id: str
    settings: Settings
    """The settings the task started with (its traces go where its run went)."""
    pending: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0


class MlflowTracingHooks(Hooks):
    """Log every sample as an MLflow trace (enabled by ``MLFLOW_INSPECT_TRACING=true``)."""

    def __init__(self) -> None:
        self._tasks: dict[str, _TaskTraces] = {}
        self._runs: dict[str, Settings] = {}
        """Inspect runs traced since their start (until their end), with their settings."""
        self._autolog: Any = None
        """An :class:`~inspect_mlflow._autolog.AutologSession` while provider autolog is on."""

    def enabled(self) -> bool:
        # Inspect asks before every emission (~50 per sample, for every hook): inside a run
        # that is being traced, answer without reading the settings again
        if self._runs:
            return True
        return switched_on()[1]

    # ---- run level ----------------------------------------------------------------------

    async def on_run_start(self, data: RunStart) -> None:
        from inspect_mlflow._sink._sink import get_sink

        settings = settings_or_raise()
        if not (settings.active and settings.tracing):
            self._runs.clear()  # left over from a run whose end never came
            return
        self._runs[data.run_id] = settings
        if settings.autolog_enabled and self._autolog is None:
            from inspect_mlflow._autolog import AutologSession

            sink = get_sink(settings)
            # the writer creates the store first (parallel creation of a fresh SQLite store races)
            await anyio.to_thread.run_sync(sink.flush)
            self._autolog = await anyio.to_thread.run_sync(AutologSession.start, settings)

    async def on_run_end(self, data: RunEnd) -> None:
        from inspect_mlflow._sink._sink import get_sink

        settings = self._runs.pop(data.run_id, None) or settings_or_raise()
        # tasks whose on_task_end never came (the task raised or was cancelled)
        for eval_id, task in list(self._tasks.items()):
            if task.run_id == data.run_id:
                self._submit(task)
                self._tasks.pop(eval_id, None)
        if self._autolog is not None:
            autolog, self._autolog = self._autolog, None
            await anyio.to_thread.run_sync(autolog.stop)
        if settings.active:
            await anyio.to_thread.run_sync(get_sink(settings).flush)

    # ---- task level ---------------------------------------------------------------------

    async def on_task_start(self, data: TaskStart) -> None:
        from inspect_mlflow._records._traces import TraceContext

        settings = self._runs.get(data.run_id) or settings_or_raise()
        if not (settings.active and settings.tracing):
            return
        self._tasks[data.eval_id] = _TaskTraces(
            context=TraceContext(
                eval_id=data.eval_id,
                run_id=data.run_id,
                task=data.spec.task,
                model=data.spec.model,
                experiment=settings.experiment_name,
                max_chars=settings.trace_max_chars,
                extra_tags=dict(settings.extra_tags),
            ),
            run_id=data.run_id,
            settings=settings,
        )

    async def on_sample_start(self, data: SampleStart) -> None:
        if self._autolog is not None:
            # runs in the sample's own task: provider spans of this sample nest under its trace
            self._autolog.enter_sample(data.sample_id)

    async def on_sample_end(self, data: SampleEnd) -> None:
        from inspect_mlflow._records._traces import sample_trace

        if self._autolog is not None:
            self._autolog.exit_sample(data.sample_id)
        task = self._tasks.get(data.eval_id)
        if task is None:
            return
        try:
            if len(data.sample.events) > EVENTS_INLINE:
                # a long agent transcript: build it off the event loop
                trace = await anyio.to_thread.run_sync(sample_trace, data.sample, task.context)
            else:
                trace = sample_trace(data.sample, task.context)
            task.pending.append(trace)
        except Exception as ex:  # one odd sample must not cost the others their traces
            task.failures += 1
            if task.failures == 1:
                logger.warning(
                    f"inspect_mlflow: could not build the trace of sample {data.sample.id} "
                    f"(epoch {data.sample.epoch}): {type(ex).__name__}: {ex}"
                )
            return
        if len(task.pending) >= TRACES_PER_RECORD:
            self._submit(task)

    async def on_task_end(self, data: TaskEnd) -> None:
        from inspect_mlflow._sink._sink import get_sink

        task = self._tasks.pop(data.eval_id, None)
        if task is None:
            return
        self._submit(task)
        if task.failures > 1:
            logger.warning(
                f"inspect_mlflow: {task.failures} samples of task {task.context.task} have no trace"
            )
        if self._autolog is not None:
            await anyio.to_thread.run_sync(self._autolog.flush)
        # every trace of the task is in MLflow when eval() returns
        await anyio.to_thread.run_sync(get_sink(task.settings).flush)

    # ---- helpers ------------------------------------------------------------------------

    def _submit(self, task: _TaskTraces) -> None:
        from inspect_mlflow._records._task import task_key
        from inspect_mlflow._sink._ops import LogTraces
        from inspect_mlflow._sink._sink import get_sink

        if task.pending:
            traces, task.pending = task.pending, []
            sink = get_sink(task.settings)
            sink.submit(LogTraces(key=task_key(task.context.eval_id), traces=traces))
