"""Log existing ``.eval`` logs to MLflow: ``python -m inspect_mlflow log LOG_FILE ...``.

Uses the same record mapping as the live hooks, so a log written afterwards lands in MLflow as
it would have live. Task runs are keyed by eval id: logging a log twice does not duplicate it
(``--replace`` deletes the earlier run first, e.g. after a writer crash left it incomplete).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._settings import Settings, SettingsError, current_settings

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

    from inspect_mlflow._records._traces import TraceContext

TRACES_PER_RECORD = 50


class BackfillError(ValueError):
    """A log cannot be read or logged; the message names it."""


def log_eval_log(
    log: str | Path,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    replace: bool = False,
    settings: Settings | None = None,
) -> str:
    """Log one ``.eval``/``.json`` log to MLflow and return the task run's id.

    Args:
        log: Path to the log file.
        tracking_uri: Tracking URI (default: from the settings / environment).
        experiment: Experiment name (default: from the settings / environment).
        replace: Delete an earlier run of the same eval first instead of keeping it.
        settings: Settings to use instead of the current ones.
    """
    from inspect_ai.log import read_eval_log

    from inspect_mlflow._hooks._common import experiment_tags, status_for
    from inspect_mlflow._records._tables import load_schema
    from inspect_mlflow._records._task import TaskRecorder, parent_start
    from inspect_mlflow._records._traces import sample_trace
    from inspect_mlflow._sink._ops import EndRun, LogTraces, Op
    from inspect_mlflow._sink._spool import Spool
    from inspect_mlflow._sink._writer import RUN_KEY_TAG, Writer

    base = settings or current_settings()
    uri = tracking_uri or base.tracking_uri
    if uri is None:
        raise BackfillError("no tracking URI: pass --tracking-uri or set MLFLOW_TRACKING_URI")
    experiment_name = experiment or base.experiment_name
    path = Path(log)
    if not path.is_file():
        raise BackfillError(f"no log file at {path}")
    try:
        eval_log = read_eval_log(str(path))
    except Exception as ex:
        raise BackfillError(f"{path} is not a readable Inspect log: {ex}") from None

    spec = eval_log.eval
    recorder = TaskRecorder(
        eval_id=spec.eval_id,
        schema=load_schema(base.artifact_schema) if base.log_artifacts else None,
    )
    writer = Writer(uri, spool=Spool(base.spool_dir, uri))
    try:
        if replace:
            experiment_id = writer.experiment_id(experiment_name)
            for run in writer.client.search_runs(
                [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{recorder.key}'"
            ):
                writer.client.delete_run(run.info.run_id)
        parent = parent_start(
            spec.eval_set_id,
            spec.run_id,
            experiment=experiment_name,
            parent_run_id=base.parent_run_id,
            extra_tags=base.extra_tags,
            experiment_tags=experiment_tags(base),
        )
        ops: list[Op] = [
            parent,
            recorder.start(
                spec,
                eval_log.plan,
                experiment=experiment_name,
                parent=parent.key,
                parent_run_id=None,
                run_name_template=base.run_name_template,
                extra_tags=base.extra_tags,
                experiment_tags=experiment_tags(base),
            ),
        ]
        writer.apply(ops)
        traces = _trace_context(base, eval_log, experiment_name) if base.tracing else None
        batch: list[dict[str, Any]] = []
        for sample in eval_log.samples or []:
            writer.apply(recorder.sample(sample))
            if traces is not None:
                batch.append(sample_trace(sample, traces))
                if len(batch) >= TRACES_PER_RECORD:
                    writer.apply([LogTraces(key=recorder.key, traces=batch)])
                    batch = []
        if batch:
            writer.apply([LogTraces(key=recorder.key, traces=batch)])
        status = status_for(eval_log.status)
        writer.apply([*recorder.finish(eval_log, status), EndRun(key=parent.key, status=status)])
        problems = writer.take_problems()
        if problems:
            raise BackfillError("; ".join(problems))
        run_id = writer.run_id(recorder.key)
        assert run_id is not None
        return run_id
    finally:
        writer.close()


def _trace_context(settings: Settings, log: EvalLog, experiment: str) -> TraceContext:
    from inspect_mlflow._records._traces import TraceContext

    return TraceContext(
        eval_id=log.eval.eval_id,
        run_id=log.eval.run_id,
        task=log.eval.task,
        model=log.eval.model,
        experiment=experiment,
        max_chars=settings.trace_max_chars,
        extra_tags=dict(settings.extra_tags),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inspect_mlflow log",
        description="Log existing Inspect .eval logs to MLflow (same content as the live hooks).",
    )
    parser.add_argument("logs", nargs="+", help=".eval or .json log files")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI)")
    parser.add_argument("--experiment", help="experiment name (default: MLFLOW_EXPERIMENT_NAME)")
    parser.add_argument(
        "--replace", action="store_true", help="delete an earlier run of the same eval first"
    )
    parser.add_argument(
        "--traces",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also log one trace per sample (default: MLFLOW_INSPECT_TRACING)",
    )
    args = parser.parse_args(argv)
    try:
        settings = current_settings()
    except SettingsError as ex:
        print(str(ex), file=sys.stderr)
        return 2
    if args.traces is not None:
        settings = settings.model_copy(update={"tracing": args.traces})
    failures = 0
    for log in args.logs:
        try:
            run_id = log_eval_log(
                log, args.tracking_uri, args.experiment, replace=args.replace, settings=settings
            )
            print(f"{log}: logged as run {run_id}")
        except BackfillError as ex:
            print(f"inspect_mlflow log: {ex}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0
