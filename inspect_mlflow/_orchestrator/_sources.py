"""Where ``check`` reads each side from: a log path or an MLflow task run.

Selectors:

- ``PATH``: an ``.eval``/``.json`` log file.
- ``mlflow-run:RUN_ID``: a task run the hooks logged.
- ``mlflow:FILTER``: the most recent task run matching an MLflow filter string, e.g.
  ``mlflow:tags.`inspect.task` = 'inspect_mlflow/arithmetic' and tags.`mlflow.source.git.branch` = 'main'``
  (``--experiment`` names the experiment searched).

A task run points at its log with the ``inspect.log_file`` tag; when that file is gone, the
per-sample scores table the hooks logged (``inspect/sample_scores.json``: ``sample_id``,
``epoch``, ``scorer``, ``value``) stands in for it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._orchestrator._errors import ConfigError

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

SCORES_TABLE = "inspect/sample_scores.json"
RUN_PREFIX = "mlflow-run:"
FILTER_PREFIX = "mlflow:"


@dataclass
class Resolved:
    log: str | EvalLog
    label: str
    run_id: str | None = None
    eval_id: str | None = None
    note: str | None = None
    metrics: dict[str, float] | None = None
    """The task run's MLflow metrics (stand-ins for run metrics a stand-in log lacks)."""


def is_mlflow_selector(text: str) -> bool:
    return text.startswith((RUN_PREFIX, FILTER_PREFIX))


def resolve_side(selector: str, role: str, tracking_uri: str | None, experiment: str) -> Resolved:
    """The log (or stand-in) one side of a check reads.

    Raises:
        ConfigError: the file or run does not exist, or the run has neither log nor scores.
    """
    if not is_mlflow_selector(selector):
        path = Path(selector)
        if not path.exists():
            raise ConfigError(
                f"{role}: {selector!r} is neither an existing log file nor an MLflow selector "
                f"({RUN_PREFIX}RUN_ID or {FILTER_PREFIX}FILTER)"
            )
        return Resolved(log=str(path), label=path.name)
    if not tracking_uri:
        raise ConfigError(
            f"{role}: {selector!r} needs a tracking server: pass --tracking-uri "
            "(or set MLFLOW_TRACKING_URI)"
        )
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    run = _find_run(client, selector, role, experiment)
    tags = run.data.tags
    eval_id = tags.get("inspect.eval_id")
    label = f"{tags.get('inspect.task', '?')} {tags.get('inspect.model', '?')} (run {run.info.run_id[:8]})"
    log_file = tags.get("inspect.log_file")
    if log_file and _exists(log_file):
        return Resolved(log=log_file, label=label, run_id=run.info.run_id, eval_id=eval_id)
    log = _log_from_scores_table(client, run, role)
    note = (
        f"{role}: the log {log_file} is gone; using the run's {SCORES_TABLE} table"
        if log_file
        else f"{role}: the run has no inspect.log_file tag; using its {SCORES_TABLE} table"
    )
    return Resolved(
        log=log, label=label, run_id=run.info.run_id, eval_id=eval_id, note=note,
        metrics=dict(run.data.metrics),
    )  # fmt: skip


def _find_run(client: Any, selector: str, role: str, experiment: str) -> Any:
    from mlflow.exceptions import MlflowException

    if selector.startswith(RUN_PREFIX):
        run_id = selector[len(RUN_PREFIX) :].strip()
        try:
            return client.get_run(run_id)
        except MlflowException as ex:
            raise ConfigError(f"{role}: no MLflow run {run_id!r} ({_first_line(ex)})") from None
    expression = selector[len(FILTER_PREFIX) :].strip()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise ConfigError(f"{role}: no MLflow experiment named {experiment!r} (see --experiment)")
    task_runs = "tags.`inspect.eval_id` LIKE '%'"
    query = f"{expression} and {task_runs}" if expression else task_runs
    try:
        runs = client.search_runs(
            [found.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"],
            max_results=1,
        )  # fmt: skip
    except MlflowException as ex:
        raise ConfigError(
            f"{role}: invalid MLflow filter {expression!r}: {_first_line(ex)}"
        ) from None
    if not runs:
        raise ConfigError(
            f"{role}: no task run in experiment {experiment!r} matches {expression!r}"
        )
    return runs[0]


def _log_from_scores_table(client: Any, run: Any, role: str) -> EvalLog:
    from inspect_ai.log import EvalConfig, EvalDataset, EvalLog, EvalSample, EvalSpec
    from inspect_ai.scorer import Score

    with tempfile.TemporaryDirectory(prefix="inspect_mlflow_check_") as folder:
        try:
            path = client.download_artifacts(run.info.run_id, SCORES_TABLE, folder)
        except Exception:
            raise ConfigError(
                f"{role}: run {run.info.run_id} has no readable log and no {SCORES_TABLE} table; "
                "re-log its .eval file with `python -m inspect_mlflow log`"
            ) from None
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    columns = table.get("columns", [])
    missing = {"sample_id", "epoch", "scorer", "value"} - set(columns)
    if missing:
        raise ConfigError(
            f"{role}: {SCORES_TABLE} lacks the column(s) {', '.join(sorted(missing))}"
        )
    index = {name: columns.index(name) for name in ("sample_id", "epoch", "scorer", "value")}
    samples: dict[tuple[str, int], EvalSample] = {}
    for row in table.get("data", []):
        sample_id, epoch = row[index["sample_id"]], int(row[index["epoch"]] or 1)
        key = (str(sample_id), epoch)
        if key not in samples:
            samples[key] = EvalSample(id=sample_id, epoch=epoch, input="", target="", scores={})
        scores = samples[key].scores
        assert scores is not None
        scores[str(row[index["scorer"]])] = Score(value=_value(row[index["value"]]))
    tags = run.data.tags
    epochs = max((epoch for _, epoch in samples), default=1)
    created = datetime.fromtimestamp((run.info.start_time or 0) / 1000, tz=timezone.utc)
    spec = EvalSpec(
        created=created.isoformat(),
        task=tags.get("inspect.task", "unknown"),
        dataset=EvalDataset(),
        model=tags.get("inspect.model", "unknown"),
        config=EvalConfig(epochs=epochs),
        eval_id=tags.get("inspect.eval_id", run.info.run_id),
        run_id=run.info.run_id,
    )
    return EvalLog(
        eval=spec, samples=list(samples.values()), location=f"{RUN_PREFIX}{run.info.run_id}"
    )


def _value(cell: Any) -> Any:
    """Table cells keep numbers; structured values were stored as JSON text."""
    if isinstance(cell, str):
        try:
            return json.loads(cell)
        except ValueError:
            return cell
    return cell


def _exists(location: str) -> bool:
    if "://" in location and not location.startswith("file://"):
        return True  # remote logs: let Inspect read them
    return Path(location.removeprefix("file://")).exists()


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return text[0] if text else type(ex).__name__
