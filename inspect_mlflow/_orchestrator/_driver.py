"""The Hydra job: a single-process sweep (RUN mode) or one job of a multirun.

Order matters: validate the configuration, plan the grid and its comparisons, resolve every
task and model with Inspect (no model is called), and only then create the sweep run and
start ``eval_set``. So bad input exits with code 2 before anything is created or run.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_mlflow._orchestrator._compose import (
    GROUPS,
    HydraContext,
    hydra_context,
    job_axes,
    slug,
    to_data,
)
from inspect_mlflow._orchestrator._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError
from inspect_mlflow._orchestrator._finish import finish, sweep_end_values
from inspect_mlflow._orchestrator._plan import GridPoint, Plan, expand, plan_comparisons
from inspect_mlflow._orchestrator._recorder import Recorder
from inspect_mlflow._orchestrator._schema import CheckSpec, RunConfig, validate_config
from inspect_mlflow._orchestrator._session import (
    absolute_uri,
    artifact_setting,
    console,
    hook_settings,
    resolve_log_dir,
    write_json,
)
from inspect_mlflow._settings import configure

SWEEP_STATE_ENV = "INSPECT_MLFLOW_SWEEP_STATE"
STATE_DIR = ".inspect_mlflow"
TIMINGS_ENV = "INSPECT_MLFLOW_TIMINGS"
"""When set, the phases' wall times are printed at the end (used by the benchmark)."""


class Timings:
    """Wall time of each phase of a run (printed as one JSON line when ``TIMINGS_ENV`` is set)."""

    def __init__(self) -> None:
        from inspect_mlflow._orchestrator._state import STATE

        self.start = self.last = time.perf_counter()
        self.phases: dict[str, float] = {}
        if STATE.started:
            self.phases["compose"] = round(self.start - STATE.started, 4)

    def mark(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = round(now - self.last, 4)
        self.last = now

    def report(self) -> None:
        if os.environ.get(TIMINGS_ENV):
            self.phases["total"] = round(
                time.perf_counter() - self.start + self.phases.get("compose", 0), 4
            )
            console("inspect_mlflow timings: " + json.dumps(self.phases))


@dataclass(frozen=True)
class SweepState:
    """What the multirun callback tells its jobs (a JSON file in the sweep dir)."""

    name: str
    run_id: str | None
    log_dir: str
    swept_keys: list[str]
    state_dir: str
    run_key: str | None = None
    """The sweep run's key: jobs that share the callback's writer (basic launcher) nest under
    it by key, which also holds when MLflow was down and the sweep run is only in the spool."""

    @classmethod
    def read(cls, path: Path) -> SweepState:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)


def run_job(cfg: Any) -> int:
    """Hydra task function body; returns the exit code (never raises but ``KeyboardInterrupt``)."""
    ctx: HydraContext | None = None
    try:
        data = to_data(cfg)
        ctx = hydra_context(data)
        config = validate_config(data)
        if ctx.multirun:
            return _multirun_job(config, ctx)
        return _single(config, ctx)
    except ConfigError as ex:
        console(f"inspect_mlflow: error: {ex}")
        if ctx is not None and ctx.multirun:
            _write_job_manifest(ctx, [], f"configuration error: {ex}", EXIT_USAGE)
        return EXIT_USAGE
    except KeyboardInterrupt:
        raise
    except Exception as ex:
        console(f"inspect_mlflow: error: {type(ex).__name__}: {ex}")
        if os.environ.get("INSPECT_MLFLOW_DEBUG"):
            traceback.print_exc()
        if ctx is not None and ctx.multirun:
            _write_job_manifest(ctx, [], f"{type(ex).__name__}: {ex}", EXIT_FAILED)
        return EXIT_FAILED


def aliases(ctx: HydraContext) -> dict[str, list[str]]:
    """Config option names are selector aliases (``compare.baseline.model=simulated_strong``)."""
    return {group: [ctx.choices[group]] for group in ("task", "model") if group in ctx.choices}


def validate_plan(config: RunConfig, plan: Plan, construct_models: bool) -> list[Any]:
    """Resolve every point with Inspect and check the comparisons and gates it implies."""
    from inspect_mlflow._orchestrator._resolve import resolve_points

    pairs = plan_comparisons(plan.points, config.compare)
    resolved = resolve_points(plan.points, config.eval.limit, construct_models=construct_models)
    check_common_samples(pairs, {item.point.key: item.sample_ids for item in resolved})
    check_gate_metrics(config.check, [item.task for item in resolved])
    return resolved


def check_common_samples(
    pairs: Sequence[tuple[GridPoint, GridPoint]], sample_ids: Mapping[str, Sequence[str]]
) -> None:
    """Each comparison's two sides must share samples (else the comparison is meaningless)."""
    for baseline, candidate in pairs:
        base = set(sample_ids.get(baseline.key, ()))
        cand = set(sample_ids.get(candidate.key, ()))
        if base and cand and not base & cand:
            raise ConfigError(
                f"compare: {candidate.describe()} and its baseline {baseline.describe()} have no "
                f"samples in common (baseline ids {_ids(base)}, candidate ids {_ids(cand)}); "
                "compare points that run the same dataset, or change compare.baseline / "
                "compare.candidates"
            )


def check_gate_metrics(spec: CheckSpec, tasks: Sequence[Any]) -> None:
    """A gate that names a score metric must name a scorer of the tasks."""
    from inspect_ai._util.registry import registry_info, registry_unqualified_name

    from inspect_mlflow._orchestrator._checks import RUN_METRICS

    scorers: set[str] = set()
    for task in tasks:
        for scorer in task.scorer or []:
            try:
                scorers.add(registry_unqualified_name(registry_info(scorer)))
            except Exception:
                return  # an unregistered scorer: its name is only known after the run
    for index, gate in enumerate(spec.gates):
        name = gate.metric
        if name in RUN_METRICS or any(char in name for char in "*?["):
            continue
        if name in scorers or name.split("/", 1)[0] in scorers:
            continue
        raise ConfigError(
            f"check.gates[{index}].metric: {name!r} is not a scorer of the sweep's tasks "
            f"(scorers: {', '.join(sorted(scorers)) or 'none'}; run metrics: "
            f"{', '.join(RUN_METRICS)}); use e.g. metric: {sorted(scorers)[0] if scorers else '*'}"
        )


def _ids(ids: set[str]) -> str:
    ordered = sorted(ids, key=lambda text: (len(text), text))
    return ", ".join(ordered[:5]) + (", ..." if len(ordered) > 5 else "")


def _mlflow_target(config: RunConfig) -> str:
    if not config.mlflow.enabled:
        return "disabled"
    return f"{absolute_uri(config.mlflow.tracking_uri or '')} (experiment {config.mlflow.experiment_name!r})"


# ---- single process ----------------------------------------------------------------------


def _single(config: RunConfig, ctx: HydraContext) -> int:
    from inspect_mlflow._orchestrator._run import dry_run_text, run_eval_set

    timings = Timings()
    plan = expand(config, aliases=aliases(ctx))
    pairs = plan_comparisons(plan.points, config.compare)
    log_dir = resolve_log_dir(config.eval, plan.name, plan.identity)
    artifacts = artifact_setting(ctx.choices.get("artifacts"), config.artifacts, None)
    timings.mark("plan")
    if config.dry_run:
        resolved = validate_plan(config, plan, construct_models=False)
        console(dry_run_text(plan, resolved, pairs, log_dir, _mlflow_target(config)))
        return EXIT_OK

    recorder: Recorder | None = None
    runs = []
    try:
        # Inspect counts the enabled hooks once, when it first builds a model (just below)
        configure(hook_settings(config, artifacts, plan.name))
        resolved = validate_plan(config, plan, construct_models=True)
        timings.mark("resolve")
        # valid: only now may the store be created (by the writer run_app started, which has
        # imported MLflow meanwhile)
        recorder = Recorder(config)
        artifacts = artifact_setting(
            ctx.choices.get("artifacts"), config.artifacts, log_dir / STATE_DIR
        )
        # queued before the hooks' first record: the eval does not wait for MLflow
        parent_key = recorder.open(
            config, plan.name, log_dir, ctx.overrides, ctx.config_yaml, "run", bool(pairs)
        )
        settings = hook_settings(config, artifacts, plan.name, parent_run_key=parent_key)
        recorder.opened(console, wait=False)
        timings.mark("sweep_run")
        console(f"Running {len(resolved)} grid point(s) with eval_set, log dir {log_dir}")
        runs = run_eval_set(resolved, config.eval, log_dir, settings, plan.name)
        timings.mark("eval_set")
        recorder.opened(console)
        code, outcomes = finish(config, runs, recorder, plan.name, console)
        timings.mark("compare")
        metrics, tags = sweep_end_values(runs, outcomes)
        status = "FINISHED" if all(run.status == "success" for run in runs) else "FAILED"
        recorder.end(status, metrics, tags)
        timings.mark("end")
        timings.report()
        return code
    except KeyboardInterrupt:
        if recorder is not None:
            _end_quietly(recorder, "KILLED")
            console(
                "inspect_mlflow: interrupted; the sweep run is marked KILLED (re-run to resume)"
            )
        raise
    except BaseException:
        if recorder is not None:
            _end_quietly(recorder, "FAILED")
        raise
    finally:
        configure(None)
        if recorder is not None:
            recorder.close()


def _end_quietly(recorder: Recorder, status: str) -> None:
    try:
        recorder.end(status)
    except Exception as ex:  # the helper is gone: nothing more can be recorded
        console(f"inspect_mlflow: could not mark the sweep run {status}: {ex}")


# ---- multirun job ------------------------------------------------------------------------


def sweep_state_path(ctx: HydraContext) -> Path:
    env = os.environ.get(SWEEP_STATE_ENV)
    if env and Path(env).is_file():
        return Path(env)
    assert ctx.sweep_dir is not None
    return Path(ctx.sweep_dir) / STATE_DIR / "sweep.json"


def job_plan(config: RunConfig, ctx: HydraContext, swept_keys: Sequence[str]) -> Plan:
    """A job's grid: its own sweep (if any) with the job's swept values as extra axes."""
    values = job_axes(ctx.overrides, swept_keys)
    extra: dict[str, Any] = {}
    alias = aliases(ctx)
    for key, value in values.items():
        if key in ("task", "model"):
            alias[key] = [str(value)]  # the model/task axis already tells jobs apart
        elif key in GROUPS:
            extra[key] = str(value)
        else:
            extra[key] = value
    return expand(config, extra_axes=extra, aliases=alias)


def job_log_dir(state: SweepState, ctx: HydraContext, swept_keys: Sequence[str]) -> Path:
    values = job_axes(ctx.overrides, swept_keys)
    label = " ".join(f"{k}={v}" for k, v in values.items()) or f"job{ctx.job_num}"
    return Path(state.log_dir) / slug(label)


def _multirun_job(config: RunConfig, ctx: HydraContext) -> int:
    from inspect_mlflow._orchestrator._resolve import resolve_points
    from inspect_mlflow._orchestrator._run import run_eval_set

    state = SweepState.read(sweep_state_path(ctx))
    plan = job_plan(config, ctx, state.swept_keys)
    log_dir = job_log_dir(state, ctx, state.swept_keys)
    if config.dry_run:
        from inspect_mlflow._orchestrator._run import dry_run_text

        resolved = resolve_points(plan.points, config.eval.limit, construct_models=False)
        console(dry_run_text(plan, resolved, [], log_dir, _mlflow_target(config)))
        return EXIT_OK
    artifacts = artifact_setting(
        ctx.choices.get("artifacts"), config.artifacts, log_dir / STATE_DIR
    )
    settings = hook_settings(
        config, artifacts, state.name, parent_run_id=state.run_id, parent_run_key=state.run_key
    )
    configure(settings)  # before Inspect counts the enabled hooks (when it builds a model)
    try:
        resolved = resolve_points(plan.points, config.eval.limit, construct_models=True)
    finally:
        configure(None)
    runs = run_eval_set(resolved, config.eval, log_dir, settings, state.name)
    code = EXIT_OK if all(run.status == "success" for run in runs) else EXIT_FAILED
    _write_job_manifest(ctx, [run.to_json() for run in runs], None, code, state)
    return code


def _write_job_manifest(
    ctx: HydraContext,
    runs: list[dict[str, Any]],
    error: str | None,
    code: int,
    state: SweepState | None = None,
) -> None:
    try:
        state = state or SweepState.read(sweep_state_path(ctx))
    except (OSError, ValueError, TypeError):
        return
    path = (
        Path(state.state_dir)
        / "jobs"
        / f"{ctx.job_num if ctx.job_num is not None else os.getpid()}.json"
    )
    write_json(
        path,
        {
            "job": ctx.job_num,
            "overrides": ctx.overrides,
            "runs": runs,
            "error": error,
            "code": code,
        },
    )
