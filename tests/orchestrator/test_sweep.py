"""A real single-process sweep on the simulated model, into a real SQLite store.

The ``planted`` sweep (tests/orchestrator/conf) runs a baseline that is always right, a clean
candidate that is too, and a planted regression that is always wrong, with a check spec.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from inspect_mlflow._orchestrator import _check_cli

from .conftest import (
    UNREACHABLE,
    USER_CONF,
    Workspace,
    by_kind,
    eval_set_runs,
    make_workspace,
    output,
    parent,
)

SPEC = """
significance: 0.05
gates:
  - {metric: match/accuracy, max_drop: 0.3}
"""


@pytest.fixture(scope="module")
def planted(
    tmp_path_factory: pytest.TempPathFactory, store_template: Path
) -> tuple[Workspace, Any]:
    ws = make_workspace(tmp_path_factory.mktemp("planted"), store_template)
    result = ws.cli("--config-dir", str(USER_CONF), "+sweep=planted")
    assert result.returncode == 1, output(result)  # the planted regression fails its gate
    return ws, result


def task_runs(ws: Workspace) -> dict[str, Any]:
    return {run.data.tags["inspect.model"]: run for run in by_kind(ws.runs(), "task")}


def test_one_sweep_run_is_the_ancestor_of_every_run(planted: tuple[Workspace, Any]) -> None:
    ws, _ = planted
    runs = ws.runs()
    (sweep,) = by_kind(runs, "sweep")
    assert sweep.info.status == "FINISHED"
    assert sweep.info.run_name == "sweep/planted"
    tags = sweep.data.tags
    assert tags["inspect_mlflow.sweep"] == "planted"
    assert tags["inspect_mlflow.mode"] == "run"
    assert tags["inspect_mlflow.check_verdict"] == "FAIL"
    assert Path(tags["inspect_mlflow.log_dir"]).parent == ws.path / "logs"
    assert sweep.data.params == {"sweep": "planted", "mlflow.tracking_uri": ws.uri}
    assert sweep.data.metrics == {
        "sweep/points": 3.0,
        "sweep/failed_points": 0.0,
        "sweep/comparisons": 2.0,
        "check/pass": 3.0,
        "check/fail": 1.0,
        "check/inconclusive": 0.0,
    }
    config = yaml.safe_load(
        Path(
            ws.client().download_artifacts(sweep.info.run_id, "config/resolved.yaml", str(ws.path))
        ).read_text()
    )
    assert config["sweep"]["name"] == "planted" and config["compare"]["baseline"] == {
        "model": "simulated/good"
    }

    eval_sets = eval_set_runs(runs)
    assert [parent(run) for run in eval_sets] == [sweep.info.run_id]
    tasks = task_runs(ws)
    assert sorted(tasks) == ["simulated/bad", "simulated/good", "simulated/same"]
    for run in tasks.values():
        assert parent(run) == eval_sets[0].info.run_id
        assert run.data.tags["inspect_mlflow.sweep"] == "planted"
        assert Path(run.data.tags["inspect.log_file"]).is_file()
    assert tasks["simulated/good"].data.metrics["match/accuracy"] == 1.0
    assert tasks["simulated/bad"].data.metrics["match/accuracy"] == 0.0


def test_comparison_runs_hold_what_compare_evals_computes(planted: tuple[Workspace, Any]) -> None:
    from inspect_mlflow.comparison import adjust_p_values, compare_evals

    ws, _ = planted
    tasks = task_runs(ws)
    logs = {model: run.data.tags["inspect.log_file"] for model, run in tasks.items()}
    comparisons = {
        run.data.tags["inspect_mlflow.candidate_model"]: run
        for run in by_kind(ws.runs(), "comparison")
    }
    assert sorted(comparisons) == ["simulated/bad", "simulated/same"]
    sweep_id = by_kind(ws.runs(), "sweep")[0].info.run_id

    direct = {
        model: compare_evals(logs["simulated/good"], logs[model], correction="none")
        for model in ("simulated/same", "simulated/bad")
    }
    p_values = [direct[m].metrics[0].p_value for m in ("simulated/same", "simulated/bad")]
    adjusted = dict(
        zip(("simulated/same", "simulated/bad"), adjust_p_values(p_values, "holm"), strict=True)
    )

    for model, run in comparisons.items():
        assert run.info.status == "FINISHED" and parent(run) == sweep_id
        assert run.info.run_name == f"compare/inspect_mlflow/arithmetic: {model} vs simulated/good"
        tags = run.data.tags
        assert tags["inspect_mlflow.baseline_run_id"] == tasks["simulated/good"].info.run_id
        assert tags["inspect_mlflow.candidate_run_id"] == tasks[model].info.run_id
        assert tags["inspect_mlflow.candidate_eval_id"] == tasks[model].data.tags["inspect.eval_id"]
        metric = direct[model].metrics[0]
        assert metric.name == "match"
        expected = {
            "match/delta": metric.delta,
            "match/ci_lower": metric.ci_lower,
            "match/ci_upper": metric.ci_upper,
            "match/p_value": metric.p_value,
            "match/p_adjusted": adjusted[model],
            "match/mde": metric.mde,
            "match/baseline": metric.baseline_value,
            "match/candidate": metric.candidate_value,
            "match/n": float(metric.n),
        }
        if metric.effect_size is not None and math.isfinite(metric.effect_size):
            expected["match/effect_size"] = metric.effect_size
        logged = {
            k: v
            for k, v in run.data.metrics.items()
            if k.startswith("match/") and k != "match/relative_delta"
        }
        assert logged == pytest.approx({k: v for k, v in expected.items() if v is not None})
        assert run.data.metrics["samples/aligned"] == 12.0
        assert run.data.metrics["cost/total_usd/baseline"] == pytest.approx(
            direct[model].cost.baseline.total_cost
        )
        artifacts = {a.path for a in ws.client().list_artifacts(run.info.run_id, "comparison")}
        assert artifacts == {
            "comparison/summary.txt", "comparison/result.json", "comparison/samples.json",
            "comparison/checks.json", "comparison/delta.png",
        }  # fmt: skip
        folder = ws.client().download_artifacts(
            run.info.run_id, "comparison", str(ws.path / model.replace("/", "_"))
        )
        table = json.loads((Path(folder) / "samples.json").read_text())
        assert table["columns"] == [
            "id",
            "epoch",
            "scorer",
            "baseline_score",
            "candidate_score",
            "delta",
            "direction",
        ]
        assert len(table["data"]) == 12
        assert (Path(folder) / "delta.png").read_bytes()[:4] == b"\x89PNG"

    bad, same = comparisons["simulated/bad"], comparisons["simulated/same"]
    assert bad.data.metrics["match/delta"] == -1.0
    assert (
        bad.data.tags["inspect_mlflow.verdict"],
        bad.data.tags["inspect_mlflow.check_verdict"],
    ) == ("regressed", "FAIL")
    assert (
        same.data.tags["inspect_mlflow.verdict"],
        same.data.tags["inspect_mlflow.check_verdict"],
    ) == ("no significant change", "PASS")
    assert bad.data.metrics["check/fail"] == 1.0 and same.data.metrics["check/pass"] == 2.0


def test_console_ends_with_scores_and_verdicts(planted: tuple[Workspace, Any]) -> None:
    _, result = planted
    out = result.stdout
    assert (
        out.index("Grid points")
        < out.index("Comparisons")
        < out.index("Checks: 3 passed, 1 failed, 0 inconclusive")
    )
    assert "arithmetic simulated/bad   success  12       match/accuracy 0" in out
    assert (
        "  FAIL         arithmetic simulated/bad vs arithmetic simulated/good: match/accuracy max_drop 0.3: 95% CI of the delta"
        in out
    )


def test_running_again_resumes_without_duplicates(planted: tuple[Workspace, Any]) -> None:
    ws, _ = planted
    before = {run.info.run_id: run.info.status for run in ws.runs()}
    sweep_id = by_kind(ws.runs(), "sweep")[0].info.run_id
    result = ws.cli("--config-dir", str(USER_CONF), "+sweep=planted")
    assert result.returncode == 1, output(result)
    assert f"MLflow: resuming sweep run {sweep_id}" in result.stdout
    after = {run.info.run_id: run.info.status for run in ws.runs()}
    assert after == before


def test_check_cli_on_logs(
    planted: tuple[Workspace, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ws, _ = planted
    logs = {m: r.data.tags["inspect.log_file"] for m, r in task_runs(ws).items()}
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert (
        _check_cli.main([logs["simulated/good"], logs["simulated/same"], "--spec", str(spec)]) == 0
    )
    assert "Result: PASS" in capsys.readouterr().out
    junit, md = tmp_path / "out" / "junit.xml", tmp_path / "out" / "report.md"
    code = _check_cli.main(
        [
            logs["simulated/good"],
            logs["simulated/bad"],
            "--spec",
            str(spec),
            "--junit",
            str(junit),
            "--markdown",
            str(md),
        ]
    )
    assert code == 1
    assert "Result: FAIL" in capsys.readouterr().out
    assert 'tests="1" failures="1"' in junit.read_text()
    assert "**Result: FAIL**" in md.read_text()
    assert summary.read_text().count("## inspect-mlflow check") == 2
    # bad usage and bad input: exit 2
    assert _check_cli.main([logs["simulated/good"], "nope.eval", "--spec", str(spec)]) == 2
    assert _check_cli.main([logs["simulated/good"], logs["simulated/bad"]]) == 2
    spec.write_text("gates: [{metric: match, max_drop: -1}]")
    assert (
        _check_cli.main([logs["simulated/good"], logs["simulated/bad"], "--spec", str(spec)]) == 2
    )
    assert "gates.0.max_drop: Input should be greater than or equal to 0" in capsys.readouterr().err


def test_check_cli_on_mlflow_runs_and_the_scores_table_fallback(
    planted: tuple[Workspace, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = planted
    tasks = task_runs(ws)
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    latest_good = "mlflow:tags.`inspect.model` = 'simulated/good'"
    args = ["--spec", str(spec), "--tracking-uri", ws.uri]
    assert (
        _check_cli.main([latest_good, f"mlflow-run:{tasks['simulated/same'].info.run_id}", *args])
        == 0
    )
    assert (
        _check_cli.main([latest_good, f"mlflow-run:{tasks['simulated/bad'].info.run_id}", *args])
        == 1
    )
    capsys.readouterr()
    # the candidate's log is gone: its per-sample scores table stands in for it
    log = Path(tasks["simulated/bad"].data.tags["inspect.log_file"])
    moved = tmp_path / log.name
    shutil.move(log, moved)
    try:
        assert (
            _check_cli.main(
                [latest_good, f"mlflow-run:{tasks['simulated/bad'].info.run_id}", *args]
            )
            == 1
        )
    finally:
        shutil.move(moved, log)
    out = capsys.readouterr().out
    assert "using the run's inspect/sample_scores.json table" in out
    assert "Samples: 12 aligned" in out and "Result: FAIL" in out
    assert _check_cli.main(["mlflow:tags.`inspect.model` = 'nobody'", latest_good, *args]) == 2
    assert "no task run in experiment 'inspect_ai' matches" in capsys.readouterr().err


def test_ctrl_c_marks_the_sweep_run_killed(workspace: Workspace) -> None:
    log = workspace.path / "out.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["INSPECT_DISPLAY"] = "none"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "inspect_mlflow", "+sweep=models", "+sweep.params.model.args.latency=[30]",
             "check=none", f"mlflow.tracking_uri={workspace.uri}"],  # fmt: skip
            cwd=workspace.path, env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=lambda: (os.setsid(), signal.signal(signal.SIGINT, signal.SIG_DFL)),
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while "Running 4 grid point(s)" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        time.sleep(2)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(60) == 130, log.read_text()
    assert "the sweep run is marked KILLED" in log.read_text()
    runs = workspace.runs()
    (sweep,) = by_kind(runs, "sweep")
    assert sweep.info.status == "KILLED"
    assert [run.info.run_name for run in runs if run.info.status == "RUNNING"] == []


def test_mlflow_down_the_sweep_runs_and_a_replay_rebuilds_its_run_tree(
    workspace: Workspace,
) -> None:
    """MLflow unreachable: the evals, comparisons and checks still run (exit code from the
    check), and the spool holds the sweep run and the evals' runs, nested, for a replay."""
    result, spool_dir = workspace.offline("--config-dir", str(USER_CONF), "+sweep=planted")
    assert result.returncode == 1, output(result)  # the planted regression, checked offline
    (spool,) = spool_dir.glob("*.jsonl")
    assert (
        f"MLflow at {UNREACHABLE} is unavailable: the sweep run and the evals' runs are "
        f"kept in {spool}" in result.stdout
    ), output(result)
    assert "Checks: 3 passed, 1 failed, 0 inconclusive" in result.stdout
    assert len(list((workspace.path / "logs").glob("planted-*/*.eval"))) == 3
    assert "Traceback" not in result.stdout + result.stderr

    replay = workspace.replay(spool)
    assert replay.returncode == 0, replay.stderr
    runs = workspace.runs()
    (sweep,) = by_kind(runs, "sweep")
    assert sweep.info.status == "FINISHED"
    assert sweep.data.params["sweep"] == "planted"
    assert sweep.data.metrics["sweep/points"] == 3.0
    assert sweep.data.tags["inspect_mlflow.check_verdict"] == "FAIL"
    tasks = by_kind(runs, "task")
    assert sorted(run.data.tags["inspect.model"] for run in tasks) == [
        "simulated/bad", "simulated/good", "simulated/same",
    ]  # fmt: skip
    (eval_set,) = {parent(run) for run in tasks}
    assert eval_set is not None
    assert parent(workspace.client().get_run(eval_set)) == sweep.info.run_id
    assert by_kind(runs, "comparison") == []  # reported, not written back

    # the same sweep again, MLflow up: nothing is re-run, the comparisons are written
    rerun = workspace.cli("--config-dir", str(USER_CONF), "+sweep=planted")
    assert rerun.returncode == 1, output(rerun)
    assert f"MLflow: resuming sweep run {sweep.info.run_id}" in rerun.stdout
    runs = workspace.runs()
    assert len(by_kind(runs, "task")) == 3 and len(by_kind(runs, "sweep")) == 1
    comparisons = by_kind(runs, "comparison")
    assert len(comparisons) == 2
    assert {parent(run) for run in comparisons} == {sweep.info.run_id}
