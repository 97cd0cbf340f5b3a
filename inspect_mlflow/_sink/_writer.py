"""Apply records to MLflow: the one place where the hooks' MLflow calls happen.

Runs in the writer process (or a background thread). Every call goes through
:meth:`Writer._call`, which retries transient failures; when MLflow stays unreachable the
writer stops calling it and appends every further record to the spool, from which
``python -m inspect_mlflow replay`` writes them later.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from inspect_mlflow._sink._ops import (
    AppendRows,
    BindRun,
    Call,
    Configure,
    EndRun,
    Flush,
    LogTraces,
    LogValues,
    Op,
    StartRun,
)
from inspect_mlflow._sink._spool import Spool

logger = logging.getLogger("inspect_mlflow")

T = TypeVar("T")

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
RUN_KEY_TAG = "inspect.key"


class MlflowUnavailable(Exception):
    """MLflow could not be reached after retries."""


@dataclass
class _RunState:
    run_id: str
    skip: bool = False
    """The run was fully logged before (same key): ignore further records for it."""
    ended: bool = False
    found: bool = False
    """The run existed in MLflow before this writer started it (a resumed run)."""
    tables: dict[str, tuple[list[str], Path]] = field(default_factory=dict)
    """artifact file -> (columns, spool file of JSON rows)."""


class Writer:
    """Applies :mod:`~inspect_mlflow._sink._ops` records with an explicit tracking URI."""

    def __init__(
        self,
        tracking_uri: str,
        spool: Spool | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        trace_handler: Callable[[Writer, LogTraces], None] | None = None,
    ) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.spool = spool
        self.retries = retries
        self.backoff = backoff
        self.trace_handler = trace_handler
        self.problems: list[str] = []
        self.unavailable: str | None = None
        self._experiments: dict[str, str] = {}
        self._runs: dict[str, _RunState] = {}
        self._table_dir = Path(tempfile.mkdtemp(prefix="inspect_mlflow_tables_"))
        self._bound_in_spool: set[str] = set()

    # ---- public --------------------------------------------------------------------------

    def apply(self, ops: Iterable[Op]) -> None:
        """Apply records in order, merging consecutive value records into few batches."""
        pending: LogValues | None = None
        for op in ops:
            if isinstance(op, LogValues):
                if pending is not None and pending.key == op.key:
                    pending = _merge(pending, op)
                    continue
                if pending is not None:
                    self._apply_one(pending)
                pending = op
                continue
            if pending is not None:
                self._apply_one(pending)
                pending = None
            self._apply_one(op)
        if pending is not None:
            self._apply_one(pending)

    def run_id(self, key: str) -> str | None:
        state = self._runs.get(key)
        return state.run_id if state else None

    def found_existing(self, key: str) -> bool:
        """Whether the run of ``key`` existed before this writer started it."""
        state = self._runs.get(key)
        return state is not None and state.found

    def experiment_id(self, name: str, tags: dict[str, str] | None = None) -> str:
        return self._experiment_id(name, tags or {})

    def take_problems(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems

    def close(self) -> None:
        for path in self._table_dir.glob("*"):
            path.unlink(missing_ok=True)
        self._table_dir.rmdir()

    # ---- dispatch ------------------------------------------------------------------------

    def _apply_one(self, op: Op) -> None:
        if isinstance(op, Flush | Call | Configure):  # points in the order, handled by the server
            return
        if self.unavailable is not None:
            self._keep(op)
            return
        try:
            if isinstance(op, StartRun):
                self._start_run(op)
            elif isinstance(op, LogValues):
                self._log_values(op)
            elif isinstance(op, AppendRows):
                self._append_rows(op)
            elif isinstance(op, EndRun):
                self._end_run(op)
            elif isinstance(op, LogTraces):
                self._log_traces(op)
            elif isinstance(op, BindRun):
                self._runs.setdefault(op.key, _RunState(op.run_id))
        except MlflowUnavailable as ex:
            self.unavailable = str(ex)
            self._keep(op)
            where = f"; records are kept in {self.spool.path}" if self.spool else ""
            self.problems.append(
                f"MLflow at {self.tracking_uri} is unavailable ({ex}){where}. The eval goes on; "
                + (
                    f"write the records later with: python -m inspect_mlflow replay {self.spool.path}"
                    if self.spool
                    else "re-log the .eval logs later with: python -m inspect_mlflow log LOG_FILE"
                )
            )
        except Exception as ex:  # a record MLflow refuses: report it, keep it, go on
            self._keep(op)
            self.problems.append(f"MLflow refused a {type(op).__name__} record: {ex}")

    def _keep(self, op: Op) -> None:
        if self.spool is None:
            return
        key = getattr(op, "key", None)
        state = self._runs.get(key) if isinstance(key, str) else None
        # runs that exist in MLflow already: replay must write to them, not start others
        if key is not None and state is not None:
            self._bind_in_spool(key, state.run_id)
        if isinstance(op, StartRun) and op.parent_key and op.parent_key in self._runs:
            self._bind_in_spool(op.parent_key, self._runs[op.parent_key].run_id)
        if isinstance(op, EndRun) and state is not None:
            # rows buffered here before MLflow went away must reach the spool too
            for artifact_file, (columns, path) in state.tables.items():
                self.spool.append(AppendRows(op.key, artifact_file, columns, _read_rows(path)))
                path.unlink(missing_ok=True)
            state.tables.clear()
        self.spool.append(op)

    def _bind_in_spool(self, key: str, run_id: str) -> None:
        if self.spool is not None and key not in self._bound_in_spool:
            self.spool.append(BindRun(key=key, run_id=run_id))
            self._bound_in_spool.add(key)

    # ---- records -------------------------------------------------------------------------

    def _start_run(self, op: StartRun) -> None:
        known = self._runs.get(op.key)
        if known is not None:
            if known.ended and op.reuse_finished:
                self._call(self.client.update_run, known.run_id, status="RUNNING")
                known.ended = False
            return
        experiment_id = self._experiment_id(op.experiment, op.experiment_tags)
        existing = self._call(
            self.client.search_runs,
            [experiment_id],
            filter_string=f"tags.`{RUN_KEY_TAG}` = '{op.key}'",
            max_results=1,
        )
        if existing:
            run = existing[0]
            finished = run.info.status == "FINISHED"
            if finished and not op.reuse_finished:
                self._runs[op.key] = _RunState(run.info.run_id, skip=True)
                return
            if run.info.status != "RUNNING":
                self._call(self.client.update_run, run.info.run_id, status="RUNNING")
            self._runs[op.key] = _RunState(run.info.run_id, found=True)
            return

        tags = {**op.tags, RUN_KEY_TAG: op.key}
        # a key this writer does not know (another process's run): the id, if given
        parent_id = (self.run_id(op.parent_key) if op.parent_key else None) or op.parent_run_id
        if parent_id:
            tags["mlflow.parentRunId"] = parent_id
        run = self._call(
            self.client.create_run,
            experiment_id,
            start_time=op.start_time_ms,
            tags=tags,
            run_name=op.name,
        )
        self._runs[op.key] = _RunState(run.info.run_id)
        if op.params:
            self._log_values(LogValues(key=op.key, params=op.params))

    def _log_values(self, op: LogValues) -> None:
        from mlflow.entities import Metric, Param, RunTag

        state = self._state(op.key)
        if state is None or state.skip:
            return
        metrics = [Metric(name, value, ts, step) for name, value, step, ts in op.metrics]
        params = [Param(k, v) for k, v in op.params.items()]
        tags = [RunTag(k, v) for k, v in op.tags.items()]
        while metrics or params or tags:
            chunk_params, params = params[:MAX_PARAMS_PER_BATCH], params[MAX_PARAMS_PER_BATCH:]
            chunk_tags, tags = tags[:MAX_TAGS_PER_BATCH], tags[MAX_TAGS_PER_BATCH:]
            room = MAX_METRICS_PER_BATCH - len(chunk_params) - len(chunk_tags)
            chunk_metrics, metrics = metrics[:room], metrics[room:]
            self._call(
                self.client.log_batch,
                state.run_id,
                metrics=chunk_metrics,
                params=chunk_params,
                tags=chunk_tags,
                synchronous=True,
            )

    def _append_rows(self, op: AppendRows) -> None:
        state = self._state(op.key)
        if state is None or state.skip:
            return
        if op.artifact_file not in state.tables:
            path = self._table_dir / f"{len(list(self._table_dir.iterdir()))}.jsonl"
            state.tables[op.artifact_file] = (op.columns, path)
        _, path = state.tables[op.artifact_file]
        with path.open("a", encoding="utf-8") as f:
            for row in op.rows:
                f.write(json.dumps(row, default=str))
                f.write("\n")

    def _end_run(self, op: EndRun) -> None:
        state = self._state(op.key)
        if state is None or state.skip or state.ended:
            return
        if state.tables:
            self._log_tables(state.run_id, state.tables)
            state.tables.clear()
        self._call(
            self.client.set_terminated,
            state.run_id,
            status=op.status,
            end_time=op.end_time_ms or int(time.time() * 1000),
        )
        state.ended = True

    def _log_tables(self, run_id: str, tables: dict[str, tuple[list[str], Path]]) -> None:
        """Write tables as ``MlflowClient.log_table`` does, streaming rows from the spool files.

        The files are ``log_table``'s format (pandas' ``orient="split"`` JSON) and the run's
        ``mlflow.loggedArtifacts`` tag lists them as tables, so MLflow's UI and
        ``mlflow.load_table`` read them as usual; but no table is ever held in memory (the
        writer's memory does not grow with the number of samples), there is one upload per
        folder and one tag update per run, instead of a DataFrame, a listing, an upload, a
        run read and a tag write per table.
        """
        from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS

        with tempfile.TemporaryDirectory(prefix="inspect_mlflow_upload_") as staging:
            folders: set[str] = set()
            for artifact_file, (columns, rows) in tables.items():
                target = Path(staging, artifact_file)
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_split_json(target, columns, rows)
                rows.unlink(missing_ok=True)
                folders.add(posixpath.dirname(artifact_file))
            for folder in sorted(folders):
                local = Path(staging, folder) if folder else Path(staging)
                if folder:
                    self._call(self.client.log_artifacts, run_id, str(local), folder)
                else:
                    for item in local.iterdir():
                        if item.is_file():
                            self._call(self.client.log_artifact, run_id, str(item))
        run = self._call(self.client.get_run, run_id)
        listed = json.loads(run.data.tags.get(MLFLOW_LOGGED_ARTIFACTS, "[]"))
        for artifact_file in tables:
            entry = {"path": artifact_file, "type": "table"}
            if entry not in listed:
                listed.append(entry)
        self._call(self.client.set_tag, run_id, MLFLOW_LOGGED_ARTIFACTS, json.dumps(listed))

    def _log_traces(self, op: LogTraces) -> None:
        if self.trace_handler is None:
            from inspect_mlflow._sink._traces import persist_traces

            self.trace_handler = persist_traces
        self.trace_handler(self, op)

    # ---- helpers -------------------------------------------------------------------------

    def _state(self, key: str) -> _RunState | None:
        state = self._runs.get(key)
        if state is None:
            self.problems.append(f"no run was started for {key!r}; its records were dropped")
        return state

    def _experiment_id(self, name: str, tags: dict[str, str]) -> str:
        if name in self._experiments:
            return self._experiments[name]
        experiment = self._call(self.client.get_experiment_by_name, name)
        if experiment is None:
            try:
                experiment_id = self._call(self.client.create_experiment, name, tags=tags or None)
            except MlflowUnavailable:
                raise
            except Exception:
                # another process created it between our look-up and create
                experiment = self._call(self.client.get_experiment_by_name, name)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
            for key, value in tags.items():
                if experiment.tags.get(key) != value:
                    self._call(self.client.set_experiment_tag, experiment_id, key, value)
        self._experiments[name] = experiment_id
        return experiment_id

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call MLflow, retrying failures that look transient."""
        attempt = 0
        while True:
            try:
                return fn(*args, **kwargs)
            except Exception as ex:
                if not _is_transient(ex):
                    raise
                attempt += 1
                if attempt > self.retries:
                    raise MlflowUnavailable(_one_line(ex)) from ex
                time.sleep(self.backoff * (2 ** (attempt - 1)))


def _write_split_json(target: Path, columns: list[str], rows: Path) -> None:
    """``{"columns": [...], "data": [[...], ...]}`` from a file of one JSON row per line."""
    with target.open("w", encoding="utf-8") as out:
        out.write('{"columns":')
        out.write(json.dumps(columns))
        out.write(',"data":[')
        if rows.exists():
            with rows.open(encoding="utf-8") as lines:
                for index, line in enumerate(lines):
                    if index:
                        out.write(",")
                    out.write(line.rstrip("\n"))
        out.write("]}")


def _read_rows(path: Path) -> list[list[Any]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _merge(a: LogValues, b: LogValues) -> LogValues:
    return LogValues(
        key=a.key,
        metrics=[*a.metrics, *b.metrics],
        params={**a.params, **b.params},
        tags={**a.tags, **b.tags},
    )


_TRANSIENT_CODES = {"TEMPORARILY_UNAVAILABLE", "RESOURCE_EXHAUSTED", "INTERNAL_ERROR", "ABORTED"}


def _is_transient(ex: BaseException) -> bool:
    import requests
    from mlflow.exceptions import MlflowException

    if isinstance(ex, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return True
    if isinstance(ex, MlflowException):
        if ex.error_code in _TRANSIENT_CODES:
            return True
        text = str(ex).lower()
        return any(
            marker in text
            for marker in ("database is locked", "max retries exceeded", "connection refused",
                           "temporarily unavailable", "timed out")
        )  # fmt: skip
    return "database is locked" in str(ex).lower()


def _one_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return f"{type(ex).__name__}: {text[0] if text else ''}"[:500]


def writer_environment() -> dict[str, str]:
    """Environment for the writer process: fail fast on HTTP, so the spool takes over quickly."""
    env = dict(os.environ)
    env.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the writer retries itself
    env.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    env.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    # MLflow's trace cost estimate would otherwise fetch a price catalogue over the network
    # (~7 s of retries when offline) before using the one it ships with
    env.setdefault("MLFLOW_MODEL_CATALOG_URI", "")
    return env
