"""Hydra multirun (``-m``): one sweep run created by the callback, jobs under it, comparisons after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Workspace, by_kind, eval_set_runs, output, parent


def check_tree(ws: Workspace, jobs: int) -> tuple[Any, list[Any], list[Any]]:
    runs = ws.runs()
    (sweep,) = by_kind(runs, "sweep")
    assert sweep.info.status == "FINISHED"
    assert sweep.data.tags["inspect_mlflow.mode"] == "multirun"
    eval_sets = eval_set_runs(runs)
    assert len(eval_sets) == jobs
    assert {parent(r) for r in eval_sets} == {sweep.info.run_id}
    tasks = by_kind(runs, "task")
    assert len(tasks) == jobs
    assert {parent(r) for r in tasks} == {r.info.run_id for r in eval_sets}
    comparisons = by_kind(runs, "comparison")
    assert {parent(r) for r in comparisons} == {sweep.info.run_id}
    return sweep, tasks, comparisons


def test_basic_launcher_model_sweep(workspace: Workspace) -> None:
    from inspect_mlflow.comparison import compare_evals

    result = workspace.cli(
        "-m", "model=simulated_strong,simulated_weak", "task.args.samples=6",
        "+compare.baseline.model=simulated_strong", "check=default",
    )  # fmt: skip
    assert result.returncode in (0, 1), output(result)
    sweep, tasks, (comparison,) = check_tree(workspace, jobs=2)
    assert sweep.data.params["model"] == "simulated_strong,simulated_weak"
    assert (
        sweep.data.metrics["sweep/points"] == 2.0 and sweep.data.metrics["sweep/comparisons"] == 1.0
    )
    logs = {r.data.tags["inspect.model"]: r.data.tags["inspect.log_file"] for r in tasks}
    # each job ran in its own log dir under the sweep's
    assert Path(logs["simulated/weak"]).parent.name == "model=simulated_weak"
    direct = compare_evals(logs["simulated/strong"], logs["simulated/weak"]).metrics[0]
    assert comparison.data.metrics["match/delta"] == pytest.approx(direct.delta)
    assert comparison.data.metrics["match/p_adjusted"] == pytest.approx(
        direct.p_value
    )  # one test: no correction
    assert comparison.data.tags["inspect_mlflow.candidate_model"] == "simulated/weak"
    assert "inspect_mlflow.check_verdict" in comparison.data.tags
    assert "Comparisons" in result.stdout and "Checks:" in result.stdout
    expected = 1 if comparison.data.tags["inspect_mlflow.check_verdict"] == "FAIL" else 0
    assert result.returncode == expected


def test_joblib_launcher_sweeps_any_key(workspace: Workspace) -> None:
    result = workspace.cli(
        "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model.temperature=0.0,0.5",
        "task.args.samples=4", "check=none",
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    _, tasks, (comparison,) = check_tree(workspace, jobs=2)
    assert comparison.info.run_name == (
        "compare/inspect_mlflow/arithmetic: model.temperature=0.5 vs model.temperature=0.0"
    )
    (state,) = workspace.path.glob("multirun/*/*/.inspect_mlflow/sweep.json")
    manifests = sorted(state.parent.glob("jobs/*.json"))
    assert [json.loads(m.read_text())["code"] for m in manifests] == [0, 0]
    axes = [json.loads(m.read_text())["runs"][0]["point"]["axes"] for m in manifests]
    assert axes == [
        {"task": "arithmetic", "model": "simulated/default", "model.temperature": 0.0},
        {"task": "arithmetic", "model": "simulated/default", "model.temperature": 0.5},
    ]


@pytest.mark.slow
def test_submitit_local_launcher(workspace: Workspace) -> None:
    result = workspace.cli(
        "-m", "hydra/launcher=submitit_local", "model=simulated,simulated_weak", "task.args.samples=3",
        "check=none",
    )  # fmt: skip
    assert result.returncode == 0, output(result)
    check_tree(workspace, jobs=2)


def test_a_bad_job_config_stops_the_multirun_before_any_job(workspace: Workspace) -> None:
    result = workspace.cli("-m", "model.temperature=0.5,hot", "check=none")
    assert result.returncode == 2, output(result)
    assert "model.temperature: Input should be a valid number" in result.stdout
    assert workspace.runs() == []
    assert not (workspace.path / "logs").exists()


def test_mlflow_down_jobs_are_spooled_under_the_sweep_run(workspace: Workspace) -> None:
    """Basic launcher, MLflow unreachable: the jobs share the callback's writer, so their runs
    are spooled nested under the sweep run (by its key) and a replay rebuilds the tree."""
    result, spool_dir = workspace.offline(
        "-m", "model=simulated_strong,simulated_weak", "task.args.samples=4"
    )
    assert result.returncode == 0, output(result)
    (spool,) = spool_dir.glob("*.jsonl")
    assert f"kept in {spool}" in result.stdout, output(result)
    replay = workspace.replay(spool)
    assert replay.returncode == 0, replay.stderr
    runs = workspace.runs()
    (sweep,) = by_kind(runs, "sweep")
    assert sweep.info.status == "FINISHED"
    assert sweep.data.tags["inspect_mlflow.mode"] == "multirun"
    eval_sets = eval_set_runs(runs)
    assert len(eval_sets) == 2
    assert {parent(r) for r in eval_sets} == {sweep.info.run_id}
    tasks = by_kind(runs, "task")
    assert sorted(r.data.tags["inspect.model"] for r in tasks) == [
        "simulated/strong", "simulated/weak",
    ]  # fmt: skip
    assert {parent(r) for r in tasks} == {r.info.run_id for r in eval_sets}
