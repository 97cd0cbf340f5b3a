"""What a single-process sweep and a Hydra multirun share: identity, hook settings, the sweep
run, and the end of a sweep (comparisons, write-back, report, checks)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from inspect_mlflow._conf import conf_dir
from inspect_mlflow._orchestrator._errors import EXIT_FAILED, EXIT_OK, ConfigError
from inspect_mlflow._orchestrator._plan import GridPoint, plan_comparisons, varying_axes
from inspect_mlflow._orchestrator._schema import EvalOptions, ModelConfig, RunConfig, TaskConfig
from inspect_mlflow._settings import Settings

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome, Side
    from inspect_mlflow._orchestrator._schema import CheckSpec
    from inspect_mlflow._orchestrator._tracker import Tracker

Printer = Callable[[str], None]


@dataclass
class PointRun:
    """A grid point after the evals: where its log is and how it went."""

    point: GridPoint
    status: str
    """Inspect's log status (``success``, ``error``, ``cancelled``, ``started``) or ``missing``."""
    log_file: str | None = None
    eval_id: str | None = None
    eval_set_id: str | None = None
    error: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    """``scorer/metric`` -> value, from the log header."""
    samples: int = 0

    def to_json(self) -> dict[str, Any]:
        point = self.point
        return {
            "point": {
                "index": point.index,
                "axes": point.axes,
                "task": point.task.model_dump(mode="json"),
                "model": point.model.model_dump(mode="json"),
                "eval": point.eval.model_dump(mode="json"),
                "key": point.key,
                "aliases": {k: list(v) for k, v in point.aliases.items()},
            },
            "status": self.status,
            "log_file": self.log_file,
            "eval_id": self.eval_id,
            "eval_set_id": self.eval_set_id,
            "error": self.error,
            "scores": self.scores,
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointRun:
        p = data["point"]
        point = GridPoint(
            index=int(p["index"]),
            axes=dict(p["axes"]),
            task=TaskConfig.model_validate(p["task"]),
            model=ModelConfig.model_validate(p["model"]),
            eval=EvalOptions.model_validate(p["eval"]),
            key=str(p["key"]),
            aliases={k: tuple(v) for k, v in p.get("aliases", {}).items()},
        )
        return cls(
            point=point,
            status=str(data["status"]),
            log_file=data.get("log_file"),
            eval_id=data.get("eval_id"),
            eval_set_id=data.get("eval_set_id"),
            error=data.get("error"),
            scores={k: float(v) for k, v in (data.get("scores") or {}).items()},
            samples=int(data.get("samples") or 0),
        )


# ---- identity --------------------------------------------------------------------------


def absolute_uri(uri: str) -> str:
    """A relative ``sqlite:///file.db`` made absolute, so every process opens the same store."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = uri[len(prefix) :]
        if path and path != ":memory:":
            return prefix + str(Path(path).resolve())
    return uri


def resolve_log_dir(options: EvalOptions, name: str, identity: str) -> Path:
    """``eval.log_dir``, or ``logs/<name>-<identity>`` so the same sweep finds its logs again."""
    if options.log_dir:
        return Path(options.log_dir).expanduser().resolve()
    return (Path("logs") / f"{name}-{identity}").resolve()


def sweep_key(experiment: str, log_dir: Path | str) -> str:
    """The sweep run's key (``inspect.key`` tag): one sweep run per log dir and experiment."""
    digest = hashlib.sha256(f"{experiment}|{Path(log_dir).resolve()}".encode()).hexdigest()
    return f"sweep:{digest[:20]}"


# ---- settings for the hooks --------------------------------------------------------------


def artifact_setting(
    choice: str | None, composed: Mapping[str, Any], spill_dir: Path | None
) -> tuple[bool, str]:
    """(log_artifacts, artifact_schema) for the hooks from the ``artifacts`` group.

    A packaged option is passed by name; a user's option (``--config-dir``) is written to
    ``spill_dir`` and passed by path. ``None`` for ``spill_dir`` only validates.
    """
    from inspect_mlflow._records._tables import ArtifactSchema

    try:
        schema = ArtifactSchema.model_validate(dict(composed))
    except Exception as ex:
        raise ConfigError(f"artifacts: invalid artifact-table schema ({choice}): {ex}") from None
    if not schema.tables:
        return False, "default"
    if choice:
        packaged = conf_dir() / "artifacts" / f"{choice}.yaml"
        if packaged.is_file() and yaml.safe_load(packaged.read_text(encoding="utf-8")) == dict(
            composed
        ):
            return True, choice
    if spill_dir is None:
        return True, choice or "default"
    spill_dir.mkdir(parents=True, exist_ok=True)
    path = spill_dir / "artifacts.yaml"
    path.write_text(yaml.safe_dump(dict(composed), sort_keys=False), encoding="utf-8")
    return True, str(path)


def hook_settings(
    config: RunConfig,
    artifacts: tuple[bool, str],
    parent_run_id: str | None,
    sweep_name: str,
) -> Settings:
    """The hooks' settings for this sweep (same model as the env vars)."""
    mlflow = config.mlflow
    return Settings.validated(
        {
            "enabled": mlflow.enabled,
            "tracking_uri": absolute_uri(mlflow.tracking_uri)
            if mlflow.enabled and mlflow.tracking_uri
            else None,
            "experiment_name": mlflow.experiment_name,
            "tracing": config.tracing.enabled,
            "trace_max_chars": config.tracing.max_chars,
            "log_artifacts": artifacts[0],
            "artifact_schema": artifacts[1],
            "autolog_enabled": config.autolog.enabled,
            "autolog_models": tuple(config.autolog.models),
            "parent_run_id": parent_run_id,
            "run_name_template": mlflow.run_name_template,
            "extra_tags": {**git_tags(), **mlflow.tags, "inspect_mlflow.sweep": sweep_name},
            "writer": mlflow.writer,
            "spool_dir": mlflow.spool_dir,
        },
        source="mlflow/tracing/autolog configuration",
    )


_CI_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")
"""Where CI systems put the branch when the checkout is a detached HEAD."""


def git_tags(cwd: Path | None = None) -> dict[str, str]:
    """Commit and branch of the working directory's git checkout, if any.

    They go on the sweep run and (through the hooks) on every task run, so a check can pick
    "the latest run of the main branch" with ``mlflow:tags.`mlflow.source.git.branch` = 'main'``.
    """
    tags: dict[str, str] = {}
    for tag, args in (
        ("mlflow.source.git.commit", ["rev-parse", "HEAD"]),
        ("mlflow.source.git.branch", ["rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return tags
        if out.returncode == 0 and out.stdout.strip():
            tags[tag] = out.stdout.strip()
    if tags.get("mlflow.source.git.branch", "HEAD") == "HEAD":
        tags.pop("mlflow.source.git.branch", None)
        branch = next((os.environ[v] for v in _CI_BRANCH_VARIABLES if os.environ.get(v)), None)
        if branch and tags:
            tags["mlflow.source.git.branch"] = branch
    return tags


# ---- the sweep run -----------------------------------------------------------------------


class Recorder:
    """The sweep's MLflow side (a no-op when MLflow is disabled)."""

    def __init__(self, config: RunConfig) -> None:
        self.enabled = config.mlflow.enabled
        self.experiment = config.mlflow.experiment_name
        self.uri = absolute_uri(config.mlflow.tracking_uri or "") if self.enabled else ""
        self.tracker: Tracker | None = None
        self.key: str | None = None
        self.run_id: str | None = None
        self.resumed = False
        if self.enabled:
            from inspect_mlflow._orchestrator._tracker import Tracker

            self.tracker = Tracker(self.uri)

    def open(
        self,
        config: RunConfig,
        name: str,
        log_dir: Path,
        overrides: Sequence[str],
        config_yaml: str,
        mode: str,
        out: Printer,
    ) -> str | None:
        from inspect_mlflow._orchestrator._compose import override_params

        if self.tracker is None:
            return None
        self.key = sweep_key(self.experiment, log_dir)
        tags = {
            **config.mlflow.tags,
            "inspect_mlflow.kind": "sweep",
            "inspect_mlflow.sweep": name,
            "inspect_mlflow.mode": mode,
            "inspect_mlflow.log_dir": str(log_dir),
            **git_tags(),
        }
        answer = self.tracker.call(
            "open_sweep",
            experiment=self.experiment,
            key=self.key,
            name=config.mlflow.sweep_run_name or f"sweep/{name}",
            tags=tags,
            params=override_params(overrides),
            config_yaml=config_yaml,
        )
        self.run_id = str(answer["run_id"])
        self.resumed = bool(answer["resumed"])
        verb = "resuming" if self.resumed else "created"
        out(
            f"MLflow: {verb} sweep run {self.run_id} in experiment {self.experiment!r} ({self.uri})"
        )
        if answer["changed_params"]:
            out(
                "MLflow: the sweep run keeps its first values of "
                + ", ".join(answer["changed_params"])
                + " (MLflow params cannot change); see config/resolved.yaml for this run's"
            )
        self.tracker.submit("warm")
        return self.run_id

    def task_runs(self, runs: Sequence[PointRun]) -> dict[str, str]:
        """The hooks' task run of each point, by eval id."""
        eval_ids = [run.eval_id for run in runs if run.eval_id]
        if self.tracker is None or self.run_id is None or not eval_ids:
            return {}
        result: dict[str, str] = self.tracker.call(
            "task_runs",
            experiment=self.experiment,
            eval_ids=eval_ids,
            eval_set_ids=[run.eval_set_id for run in runs if run.eval_set_id],
        )
        return result

    def compare(
        self,
        pairs: list[tuple[Side, Side]],
        config: RunConfig,
        check: CheckSpec | None,
        sweep: str,
    ) -> list[ComparisonOutcome]:
        """Compare (in the helper process, whose imports are warm) and write back; or in-process
        when MLflow is off."""
        if self.tracker is None or self.run_id is None or self.key is None:
            from inspect_mlflow._orchestrator._comparisons import compare_pairs

            return compare_pairs(pairs, config.compare, check)
        outcomes: list[ComparisonOutcome] = self.tracker.call(
            "compare",
            pairs=pairs,
            compare=config.compare,
            check=check,
            experiment=self.experiment,
            sweep_key=self.key,
            tags={**config.mlflow.tags, "inspect_mlflow.sweep": sweep},
        )
        return outcomes

    def end(
        self,
        status: str,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if self.tracker is None or self.run_id is None:
            return
        self.tracker.call(
            "end_sweep", status=status, metrics=dict(metrics or {}), tags=dict(tags or {})
        )
        self.run_id = None

    def close(self) -> None:
        if self.tracker is not None:
            # every request was answered, so everything is written: don't wait for the
            # helper's interpreter to tear MLflow down
            self.tracker.close(timeout=0 if self.run_id is None else 30)
            self.tracker = None


# ---- the end of a sweep ------------------------------------------------------------------


def finish(
    config: RunConfig, runs: Sequence[PointRun], recorder: Recorder, sweep: str, out: Printer
) -> tuple[int, list[ComparisonOutcome]]:
    """Compare, write back, print the tables, run the checks; returns the exit code.

    The caller ends the sweep run (it knows whether the sweep was interrupted), with
    :func:`sweep_end_values`.
    """
    from inspect_mlflow._orchestrator._comparisons import Side
    from inspect_mlflow._orchestrator._report import (
        comparison_table,
        gate_lines,
        points_table,
        write_reports,
    )

    code = EXIT_OK
    failed = [run for run in runs if run.status != "success"]
    if failed:
        code = EXIT_FAILED
    by_key = {run.point.key: run for run in runs}
    task_runs = recorder.task_runs(runs)

    varying = varying_axes([run.point for run in runs])

    def side(run: PointRun, other: PointRun) -> Side:
        assert run.log_file is not None
        differing = [
            axis
            for axis in run.point.axes
            if axis != "task" and str(run.point.axes[axis]) != str(other.point.axes.get(axis))
        ]
        shared = [axis for axis in varying if axis != "task" and axis not in differing]
        return Side(
            log=run.log_file,
            label=run.point.describe(),
            run_id=task_runs.get(run.eval_id or ""),
            eval_id=run.eval_id,
            point_key=run.point.key,
            short=run.point.describe(differing) if differing else None,
            context=run.point.describe(shared) if shared else None,
        )

    pairs = []
    skipped = []
    for base_point, cand_point in plan_comparisons([run.point for run in runs], config.compare):
        base, cand = by_key[base_point.key], by_key[cand_point.key]
        if (
            base.status == "success"
            and cand.status == "success"
            and base.log_file
            and cand.log_file
        ):
            pairs.append((side(base, cand), side(cand, base)))
        else:
            skipped.append(f"{cand_point.describe()} vs {base_point.describe()}")

    gates = config.check if config.check.gates else None
    outcomes = recorder.compare(pairs, config, gates, sweep)

    out("")
    out(
        points_table(
            runs, {run.eval_id: task_runs.get(run.eval_id or "") for run in runs if run.eval_id}
        )
    )
    for run in failed:
        out(f"! {run.point.describe()}: {run.status}" + (f": {run.error}" if run.error else ""))
    if outcomes:
        out("")
        out(comparison_table(outcomes))
    for text in skipped:
        out(f"! comparison skipped (an eval did not succeed): {text}")
    for outcome in outcomes:
        if outcome.error:
            out(f"! comparison {outcome.label} failed: {outcome.error}")
            code = EXIT_FAILED
        for problem in outcome.problems:
            out(f"! comparison {outcome.label}: {problem}")
    lines = gate_lines(outcomes)
    if lines:
        out("")
        out("\n".join(lines))
    write_reports(outcomes, config.check, out, title=f"inspect-mlflow checks: {sweep}")
    if config.check.gates and not outcomes and not config.dry_run:
        out("! check: no comparisons were made, so no gate was evaluated (see compare.baseline)")
    if any(gate.fails_check for outcome in outcomes for gate in outcome.gates):
        code = EXIT_FAILED
    return code, outcomes


def sweep_end_values(
    runs: Sequence[PointRun], outcomes: Sequence[ComparisonOutcome]
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags the sweep run ends with: counts of points, comparisons and gates."""
    from inspect_mlflow._orchestrator._checks import verdict

    gates = [gate for outcome in outcomes for gate in outcome.gates]
    metrics = {
        "sweep/points": float(len(runs)),
        "sweep/failed_points": float(sum(run.status != "success" for run in runs)),
        "sweep/comparisons": float(sum(outcome.compared for outcome in outcomes)),
    }
    tags: dict[str, str] = {}
    if gates:
        for status in ("PASS", "FAIL", "INCONCLUSIVE"):
            metrics[f"check/{status.lower()}"] = float(sum(g.status == status for g in gates))
        tags["inspect_mlflow.check_verdict"] = verdict(gates) or ""
    return metrics, tags


def console(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)
