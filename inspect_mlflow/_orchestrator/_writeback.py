"""The orchestrator's MLflow records: the sweep run and one child run per comparison.

Runs in the hooks' writer (``Call`` records, see :mod:`inspect_mlflow._sink._calls`), with the
writer's explicit ``MlflowClient(tracking_uri)``; never ``mlflow.set_tracking_uri`` or
``set_experiment``. Runs are found again by their ``inspect.key`` tag (the writer does the
lookup), so a re-run of the same sweep reuses its sweep run, and a comparison whose inputs
did not change is not written twice.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._records._values import TAG_VALUE_LIMIT, metric_name, param_value, truncate
from inspect_mlflow._sink._ops import EndRun, LogValues, StartRun
from inspect_mlflow._sink._writer import RUN_KEY_TAG, Writer

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome, Side
    from inspect_mlflow._orchestrator._schema import CheckSpec, CompareSpec

KIND_TAG = "inspect_mlflow.kind"
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
"""The tag ``MlflowClient.log_table`` maintains; the UI lists tables from it."""
CONTENT_TAG = "inspect_mlflow.content"
COMPARISON_DIR = "comparison"

_METRIC_FIELDS = (
    ("delta", "delta"),
    ("ci_lower", "ci_lower"),
    ("ci_upper", "ci_upper"),
    ("p_value", "p_value"),
    ("p_adjusted", "p_adjusted"),
    ("mde", "mde"),
    ("effect_size", "effect_size"),
    ("relative_delta", "relative_delta"),
    ("baseline", "baseline_value"),
    ("candidate", "candidate_value"),
    ("n", "n"),
)
"""MLflow suffix -> MetricComparison field, logged as ``<metric>/<suffix>``."""

_RUN_STATS = (
    ("cost/total_usd", "total_cost"),
    ("tokens/total", "total_tokens"),
    ("latency/sample/p50", "latency_p50"),
    ("latency/sample/p95", "latency_p95"),
    ("samples/errored", "errors"),
)
"""Run stats of both sides, named like the task runs' metrics: ``<name>/baseline|candidate|delta``."""


CALLS = frozenset({"open_sweep", "end_sweep", "task_runs", "warm", "compare"})
"""The :class:`Backend` methods a writer serves."""


class Backend:
    """The orchestrator's requests, served by the hooks' writer (``Call`` records)."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.client = writer.client
        self._sweep: tuple[str, str | None] | None = None
        """(key, run id) of the open sweep run (no id: its records are in the spool)."""

    # ---- sweep run --------------------------------------------------------------------

    def open_sweep(
        self,
        experiment: str,
        key: str,
        name: str,
        tags: dict[str, str],
        params: dict[str, str],
        config_yaml: str,
    ) -> dict[str, Any]:
        """Create the sweep run, or find the one this sweep created before and reopen it.

        When MLflow is unavailable the run's records go to the writer's spool with the evals'
        (``run_id`` is then ``None``): a replay rebuilds the whole tree.
        """
        self.writer.apply(
            [StartRun(key=key, experiment=experiment, name=name, tags=tags, reuse_finished=True)]
        )
        run_id = self.writer.run_id(key)
        if run_id is None and self.writer.unavailable is not None:
            self._sweep = (key, None)
            fresh = {k: param_value(v) for k, v in params.items()}
            self.writer.apply([LogValues(key=key, params=fresh, tags=tags)])
            spool = str(self.writer.spool.path) if self.writer.spool is not None else None
            return {"run_id": None, "spool": spool, "changed_params": []}
        self._check()
        assert run_id is not None
        self._sweep = (key, run_id)
        logged = self.client.get_run(run_id).data.params
        fresh = {k: param_value(v) for k, v in params.items() if k not in logged}
        changed = sorted(
            k for k, v in params.items() if k in logged and logged[k] != param_value(v)
        )
        self.writer.apply([LogValues(key=key, params=fresh, tags=tags)])
        self._check()
        self.client.log_text(run_id, config_yaml, "config/resolved.yaml")
        return {
            "run_id": run_id,
            "resumed": self.writer.found_existing(key),
            "changed_params": changed,
        }

    def end_sweep(
        self,
        status: str,
        metrics: dict[str, float] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        if self._sweep is None:
            return
        key, _ = self._sweep
        now = int(time.time() * 1000)
        values = [
            (metric_name(k), float(v), 0, now) for k, v in (metrics or {}).items() if _finite(v)
        ]
        self.writer.apply(
            [LogValues(key=key, metrics=values, tags=tags or {}), EndRun(key=key, status=status)]
        )
        self._sweep = None
        self._check()

    def abandon(self) -> None:
        """The main process went away without ending the sweep: it was interrupted."""
        if self._sweep is not None:
            self.end_sweep("KILLED")

    # ---- lookups ----------------------------------------------------------------------

    def task_runs(
        self, experiment: str, eval_ids: list[str], eval_set_ids: list[str] | None = None
    ) -> dict[str, str]:
        """MLflow run id of each task run the hooks logged, by Inspect eval id.

        The runs this writer wrote (or found) are known already; for the others (a job in
        another process) one query per eval set finds all its task runs, and any eval id left
        over is looked up on its own.
        """
        from inspect_mlflow._records._task import task_key

        found: dict[str, str] = {}
        for eval_id in eval_ids:
            run_id = self.writer.run_id(task_key(eval_id))
            if run_id is not None:
                found[eval_id] = run_id
        wanted = set(eval_ids) - set(found)
        if not wanted:
            return found
        experiment_id = self.writer.experiment_id(experiment)
        for eval_set_id in dict.fromkeys(eval_set_ids or []):
            for run in self.client.search_runs(
                [experiment_id],
                filter_string=f"tags.`inspect.eval_set_id` = '{eval_set_id}'",
                max_results=5000,
            ):
                tagged = run.data.tags.get("inspect.eval_id")
                if tagged in wanted:
                    found[tagged] = run.info.run_id
        for eval_id in wanted - set(found):
            runs = self.client.search_runs(
                [experiment_id],
                filter_string=f"tags.`inspect.eval_id` = '{eval_id}'",
                max_results=1,
            )
            if runs:
                found[eval_id] = runs[0].info.run_id
        return found

    def warm(self, plot: bool = True) -> None:
        """Import (and run once) what the comparisons and the write-back need, while the evals run."""
        import io

        import pandas  # noqa: F401

        import inspect_mlflow._orchestrator._comparisons  # noqa: F401
        import inspect_mlflow.comparison._compare  # noqa: F401
        import inspect_mlflow.comparison._summary  # noqa: F401

        if not plot:
            return
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        import inspect_mlflow.comparison._plot  # noqa: F401

        figure = Figure(figsize=(2, 1), layout="constrained")  # first draws load fonts and caches
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        axes.errorbar([0.0], [0], xerr=[[0.1], [0.1]], fmt="o")
        axes.set_title("warm-up")
        figure.savefig(io.BytesIO(), format="png")

    def compare(
        self,
        pairs: list[tuple[Side, Side]],
        compare: CompareSpec,
        check: CheckSpec | None,
        experiment: str,
        sweep_key: str,
        tags: dict[str, str],
    ) -> list[ComparisonOutcome]:
        """Compare every pair (correcting across all) and write each comparison as a run."""
        from inspect_mlflow._orchestrator._comparisons import compare_pairs

        outcomes = compare_pairs(pairs, compare, check)
        run_ids = self.write_comparisons(
            experiment, sweep_key, outcomes, tags, compare.plot, compare.samples_table
        )
        for outcome, run_id in zip(outcomes, run_ids, strict=True):
            outcome.run_id = run_id
        # without the full results: the main process then needs no statistics imports
        return [outcome.detached() for outcome in outcomes]

    # ---- comparisons ------------------------------------------------------------------

    def write_comparisons(
        self,
        experiment: str,
        sweep_key: str,
        outcomes: list[ComparisonOutcome],
        tags: dict[str, str],
        plot: bool,
        samples_table: bool,
    ) -> list[str | None]:
        """One child run of the sweep run per comparison; returns their run ids."""
        assert self._sweep is not None, "open_sweep first"
        experiment_id = self.writer.experiment_id(experiment)
        run_ids: list[str | None] = []
        for outcome in outcomes:
            run_id = None
            if outcome.result is not None:
                try:
                    run_id = self._write_comparison(
                        experiment, experiment_id, sweep_key, outcome, tags, plot, samples_table
                    )
                except Exception as ex:  # keep the other comparisons
                    outcome.problems.append(f"not written to MLflow: {type(ex).__name__}: {ex}")
            run_ids.append(run_id)
        return run_ids

    def _write_comparison(
        self,
        experiment: str,
        experiment_id: str,
        sweep_key: str,
        outcome: ComparisonOutcome,
        extra_tags: dict[str, str],
        plot: bool,
        samples_table: bool,
    ) -> str:
        assert outcome.result is not None and self._sweep is not None
        result = outcome.result
        key = "comparison:" + _digest(
            sweep_key, outcome.baseline.point_key, outcome.candidate.point_key
        )
        result_json = result.to_json()
        content = comparison_content_hash(outcome, result_json)
        existing = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{key}'", max_results=10
        )
        for run in existing:
            if run.info.status == "FINISHED" and run.data.tags.get(CONTENT_TAG) == content:
                return str(run.info.run_id)  # same inputs, same result: already written
        for run in existing:
            self.client.delete_run(run.info.run_id)

        tags = {
            **extra_tags,
            KIND_TAG: "comparison",
            CONTENT_TAG: content,
            "inspect.task": result.baseline_task,
            "inspect_mlflow.baseline": outcome.baseline.label,
            "inspect_mlflow.candidate": outcome.candidate.label,
            "inspect_mlflow.baseline_model": result.baseline_model,
            "inspect_mlflow.candidate_model": result.candidate_model,
            "inspect_mlflow.baseline_log": result.baseline_log,
            "inspect_mlflow.candidate_log": result.candidate_log,
            "inspect_mlflow.verdict": outcome.verdict,
            "mlflow.note.content": result.summary(),
        }
        for role, side in (("baseline", outcome.baseline), ("candidate", outcome.candidate)):
            if side.run_id:
                tags[f"inspect_mlflow.{role}_run_id"] = side.run_id
            if side.eval_id:
                tags[f"inspect_mlflow.{role}_eval_id"] = side.eval_id
        check = outcome.check_verdict
        if check:
            tags["inspect_mlflow.check_verdict"] = check
        tables = comparison_tables(outcome, samples_table)
        if tables:  # what MlflowClient.log_table records, so the UI shows them as tables
            tags[LOGGED_ARTIFACTS_TAG] = json.dumps(
                [{"path": f"{COMPARISON_DIR}/{table}.json", "type": "table"} for table in tables]
            )
        tags = {k: truncate(str(v), TAG_VALUE_LIMIT) for k, v in tags.items()}

        name = f"compare/{outcome.title}"
        self.writer.apply(
            [StartRun(key=key, experiment=experiment, name=name[:250], tags=tags,
                      parent_run_id=self._sweep[1])]
        )  # fmt: skip
        self._check()
        run_id = self.writer.run_id(key)
        assert run_id is not None
        try:
            self.writer.apply([LogValues(key=key, metrics=comparison_metrics(outcome))])
            self._check()
            self._artifacts(run_id, outcome, result_json, plot, samples_table)
            self.writer.apply([EndRun(key=key, status="FINISHED")])
        except BaseException:
            self.writer.apply([EndRun(key=key, status="FAILED")])
            raise
        self._check()
        return run_id

    def _artifacts(
        self,
        run_id: str,
        outcome: ComparisonOutcome,
        result_json: str,
        plot: bool,
        samples_table: bool,
    ) -> None:
        """Summary, JSON, tables and plot, uploaded with one call."""
        result = outcome.result
        assert result is not None
        with tempfile.TemporaryDirectory(prefix="inspect_mlflow_comparison_") as name:
            folder = Path(name)
            (folder / "summary.txt").write_text(result.summary(), encoding="utf-8")
            (folder / "result.json").write_text(result_json, encoding="utf-8")
            for table, data in comparison_tables(outcome, samples_table).items():
                write_table(data, folder / f"{table}.json")
            if plot and any(m.comparable and m.delta is not None for m in result.metrics):
                try:
                    result.plot(folder / "delta.png")
                except Exception as ex:  # a plot is a nicety: the run stands without it
                    outcome.problems.append(f"no delta plot: {type(ex).__name__}: {ex}")
            self.client.log_artifacts(run_id, str(folder), COMPARISON_DIR)

    def _check(self) -> None:
        problems = self.writer.take_problems()
        if problems:
            raise RuntimeError("; ".join(problems))


def comparison_tables(
    outcome: ComparisonOutcome, samples_table: bool
) -> dict[str, dict[str, list[Any]]]:
    """``samples`` (per sample and epoch) and ``checks`` (per gate criterion) tables."""
    result = outcome.result
    assert result is not None
    tables: dict[str, dict[str, list[Any]]] = {}
    if samples_table and result.samples:
        columns = [
            "id",
            "epoch",
            "scorer",
            "baseline_score",
            "candidate_score",
            "delta",
            "direction",
        ]
        samples: dict[str, list[Any]] = {column: [] for column in columns}
        for row in result.samples:
            samples["id"].append(str(row.id))
            samples["epoch"].append(row.epoch)
            samples["scorer"].append(row.scorer)
            samples["baseline_score"].append(row.baseline_score)
            samples["candidate_score"].append(row.candidate_score)
            samples["delta"].append(row.delta)
            samples["direction"].append(row.direction)
        tables["samples"] = samples
    if outcome.gates:
        columns = ["metric", "criterion", "threshold", "status", "baseline", "candidate",
                   "delta", "ci_lower", "ci_upper", "p_adjusted", "mde", "message"]  # fmt: skip
        tables["checks"] = {
            column: [getattr(g, column) for g in outcome.gates] for column in columns
        }
    return tables


def write_table(data: dict[str, list[Any]], path: Path) -> None:
    """The file ``MlflowClient.log_table`` writes (pandas ``split`` orientation, no index)."""
    import pandas as pd

    pd.DataFrame(data).to_json(path, orient="split", index=False, date_format="iso")


def comparison_metrics(outcome: ComparisonOutcome) -> list[tuple[str, float, int, int]]:
    """The comparison run's metrics: ``<metric>/<statistic>``, run stats and gate counts."""
    result = outcome.result
    assert result is not None
    now = int(time.time() * 1000)
    values: dict[str, float] = {}
    for metric in result.metrics:
        for suffix, field in _METRIC_FIELDS:
            value = getattr(metric, field)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value):
                values[metric_name(f"{metric.name}/{suffix}")] = float(value)
    if result.cost is not None:
        for name, field in _RUN_STATS:
            base = getattr(result.cost.baseline, field)
            cand = getattr(result.cost.candidate, field)
            if base is not None:
                values[f"{name}/baseline"] = float(base)
            if cand is not None:
                values[f"{name}/candidate"] = float(cand)
            if base is not None and cand is not None:
                values[f"{name}/delta"] = float(cand) - float(base)
    values["samples/aligned"] = float(result.aligned_count)
    if outcome.gates:
        for status in ("PASS", "FAIL", "INCONCLUSIVE"):
            values[f"check/{status.lower()}"] = float(
                sum(g.status == status for g in outcome.gates)
            )
    return [(name, value, 0, now) for name, value in values.items() if _finite(value)]


def comparison_content_hash(outcome: ComparisonOutcome, result_json: str) -> str:
    """Changes whenever anything written for the comparison would change (``result_json``:
    the result's JSON artifact)."""
    return _digest(
        result_json,
        json.dumps([(g.title, g.status, g.message) for g in outcome.gates]),
        outcome.baseline.run_id,
        outcome.candidate.run_id,
    )


def _digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))
