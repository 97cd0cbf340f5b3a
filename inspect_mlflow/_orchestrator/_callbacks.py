"""Hydra callback for multirun (``-m``): one sweep run before the jobs, comparisons after them.

``on_multirun_start`` runs once in the launching process, before any job: it validates every
job's configuration (for the basic sweeper, whose job list is known up front), creates the
sweep's MLflow run (so parallel workers never race to create a fresh SQLite store) and writes
``<sweep dir>/.inspect_mlflow/sweep.json`` for the jobs, wherever the launcher runs them
(in-process, joblib workers, submitit/SLURM). Each job runs its own ``eval_set`` under that
run and leaves a manifest next to it; ``on_multirun_end`` compares across all jobs, writes the
comparisons back, prints the tables and runs the checks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from inspect_mlflow._orchestrator._errors import EXIT_FAILED, EXIT_USAGE, ConfigError


class OrchestratorCallback(Callback):
    """Registered in ``conf/config.yaml`` under ``hydra.callbacks``; inert in RUN mode."""

    def on_multirun_start(self, config: Any, **kwargs: Any) -> None:
        from inspect_mlflow._orchestrator._state import STATE

        try:
            _start(config)
        except ConfigError as ex:
            print(f"inspect_mlflow: error: {ex}", flush=True)
            STATE.exit_code = EXIT_USAGE
            if STATE.recorder is not None:
                STATE.recorder.close()
                STATE.recorder = None
            raise SystemExit(EXIT_USAGE) from None

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from inspect_mlflow._orchestrator._state import STATE

        try:
            STATE.exit_code = _end(config)
        except Exception as ex:  # Hydra would only warn: make it the exit code
            print(f"inspect_mlflow: error after the jobs: {type(ex).__name__}: {ex}", flush=True)
            STATE.exit_code = EXIT_FAILED


def _start(config: Any) -> None:
    from inspect_mlflow._orchestrator._compose import (
        config_yaml,
        expand_jobs,
        swept_keys,
        to_data,
    )
    from inspect_mlflow._orchestrator._driver import (
        STATE_DIR,
        SWEEP_STATE_ENV,
        job_plan,
        validate_plan,
    )
    from inspect_mlflow._orchestrator._plan import Plan, plan_comparisons, plan_identity
    from inspect_mlflow._orchestrator._recorder import Recorder
    from inspect_mlflow._orchestrator._schema import validate_config
    from inspect_mlflow._orchestrator._session import resolve_log_dir, write_json
    from inspect_mlflow._orchestrator._state import STATE

    base = validate_config(to_data(config))
    overrides = list(config.hydra.overrides.task)
    sweeper_params = _sweeper_params(config)
    keys = swept_keys(overrides, sweeper_params)
    name = base.sweep.name if base.sweep else "multirun"

    # validate every job before any runs (basic sweeper: the job list is known up front)
    points = []
    if _is_basic_sweeper(config):
        from hydra.core.global_hydra import GlobalHydra

        loader = GlobalHydra.instance().config_loader()
        for job in expand_jobs(overrides, sweeper_params):
            job_cfg = loader.load_sweep_config(config, job)
            job_config = validate_config(
                to_data(job_cfg), what=f"configuration of job {' '.join(job)}"
            )
            ctx = _job_context(job_cfg, job)
            plan = job_plan(job_config, ctx, keys)
            validate_plan(job_config, plan, construct_models=False)
            points.extend(plan.points)
        all_points = Plan(name, _renumber(points), plan_identity(points, base.eval))
        plan_comparisons(all_points.points, base.compare)

    identity = hashlib.sha256(
        json.dumps([sorted(overrides), sorted(p.key for p in points)], default=str).encode()
    ).hexdigest()[:8]
    log_dir = resolve_log_dir(
        base.eval, name if name == "multirun" else f"{name}-multirun", identity
    )
    sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
    state_dir = sweep_dir / STATE_DIR

    if base.dry_run:  # the jobs print their grids; nothing is created
        recorder = None
        run_id = None
    else:
        recorder = Recorder(base)
        STATE.recorder = recorder
        recorder.open(base, name, log_dir, overrides, config_yaml(to_data(config)), "multirun")
        run_id = recorder.opened(_print)  # the jobs (maybe other processes) need its id
    state = {
        "name": name,
        "run_id": run_id,
        "run_key": recorder.key if recorder is not None else None,
        "log_dir": str(log_dir),
        "swept_keys": keys,
        "state_dir": str(state_dir),
    }
    write_json(state_dir / "sweep.json", state)
    os.environ[SWEEP_STATE_ENV] = str(state_dir / "sweep.json")


def _end(config: Any) -> int:
    from inspect_mlflow._orchestrator._compose import to_data
    from inspect_mlflow._orchestrator._driver import SWEEP_STATE_ENV, SweepState
    from inspect_mlflow._orchestrator._finish import finish, sweep_end_values
    from inspect_mlflow._orchestrator._schema import validate_config
    from inspect_mlflow._orchestrator._session import PointRun
    from inspect_mlflow._orchestrator._state import STATE

    recorder = STATE.recorder
    base = validate_config(to_data(config))
    if base.dry_run:
        return 0
    state_path = Path(os.environ.get(SWEEP_STATE_ENV, ""))
    try:
        state = SweepState.read(state_path)
    except (OSError, ValueError, TypeError):
        _print("inspect_mlflow: the multirun's state file is missing; nothing to compare")
        return EXIT_FAILED
    runs: list[PointRun] = []
    code = 0
    jobs = sorted((Path(state.state_dir) / "jobs").glob("*.json"), key=lambda p: _job_number(p))
    for path in jobs:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        code = max(code, int(manifest.get("code") or 0))
        if manifest.get("error"):
            _print(
                f"! job {manifest.get('job')} ({' '.join(manifest.get('overrides', []))}): {manifest['error']}"
            )
        runs.extend(PointRun.from_json(run) for run in manifest.get("runs", []))
    for index, run in enumerate(runs):
        object.__setattr__(run.point, "index", index)
    try:
        result, outcomes = finish(base, runs, recorder or _no_recorder(base), state.name, _print)
        metrics, tags = sweep_end_values(runs, outcomes)
        status = "FINISHED" if runs and all(run.status == "success" for run in runs) else "FAILED"
        if recorder is not None:
            recorder.end(status, metrics, tags)
    except ConfigError as ex:
        _print(f"inspect_mlflow: error: {ex}")
        result = EXIT_USAGE
        if recorder is not None:
            recorder.end("FAILED")
    except Exception:
        if recorder is not None:
            with contextlib.suppress(Exception):
                recorder.end("FAILED")
        raise
    finally:
        if recorder is not None:
            recorder.close()
        STATE.recorder = None
    return max(code, result)


def _job_context(job_cfg: Any, job: list[str]) -> Any:
    from omegaconf import OmegaConf

    from inspect_mlflow._orchestrator._compose import HydraContext

    choices = OmegaConf.to_container(job_cfg.hydra.runtime.choices, resolve=False)
    assert isinstance(choices, dict)
    return HydraContext(
        overrides=list(job),
        choices={str(k): str(v) for k, v in choices.items() if v is not None},
        config_yaml="",
        multirun=True,
    )


def _sweeper_params(config: Any) -> dict[str, Any]:
    params = config.hydra.sweeper.get("params") if "params" in config.hydra.sweeper else None
    return {str(k): v for k, v in (params or {}).items()}


def _is_basic_sweeper(config: Any) -> bool:
    return str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper")


def _renumber(points: list[Any]) -> list[Any]:
    for index, point in enumerate(points):
        object.__setattr__(point, "index", index)
    return points


def _job_number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 1 << 30


def _no_recorder(config: Any) -> Any:
    from inspect_mlflow._orchestrator._recorder import Recorder

    return Recorder(
        config.model_copy(update={"mlflow": config.mlflow.model_copy(update={"enabled": False})})
    )


def _print(text: str) -> None:
    print(text, flush=True)
