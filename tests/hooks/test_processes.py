"""The hooks as users meet them: found through the entry point alone, in fresh processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers import runs, table, task_runs


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "INSPECT_MLFLOW_"))}
    env["INSPECT_MLFLOW_SPOOL_DIR"] = os.environ["INSPECT_MLFLOW_SPOOL_DIR"]
    env.update(extra)
    return env


def _inspect_eval(log_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Inspect's own CLI, with nothing of this package imported by hand."""
    inspect_cli = Path(sys.executable).parent / "inspect"
    return subprocess.run(
        [str(inspect_cli), "eval", "inspect_mlflow/arithmetic", "--model", "simulated/a",
         "-T", "samples=4", "--epochs", "2", "--log-dir", str(log_dir), "--display", "none"],
        env=env, capture_output=True, text=True, timeout=300, cwd=log_dir.parent,
    )  # fmt: skip


def test_hooks_are_found_through_the_entry_point_alone(
    tmp_path: Path, store_template: Path
) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(store_template, db)
    uri = f"sqlite:///{db}"
    result = _inspect_eval(tmp_path / "logs", _env(MLFLOW_TRACKING_URI=uri))
    assert result.returncode == 0, result.stderr
    client = MlflowClient(uri)
    (run,) = task_runs(client)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["samples/total"] == 8.0
    assert len(table(client, run.info.run_id, "inspect/samples.json")["data"]) == 8


def test_a_bad_setting_stops_the_eval_with_one_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    env = _env(MLFLOW_TRACKING_URI=f"sqlite:///{db}", MLFLOW_INSPECT_TRACING="maybe")
    result = _inspect_eval(tmp_path / "logs", env)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "MLFLOW_INSPECT_TRACING='maybe' is not a boolean" in output
    assert "Traceback" not in output
    assert not db.exists()  # nothing was written: no model was called either
    assert not (tmp_path / "logs").exists()


def test_unreachable_server_loses_nothing_spool_then_replay(
    tmp_path: Path, store_template: Path
) -> None:
    spool_dir = tmp_path / "spool"
    env = _env(MLFLOW_TRACKING_URI="http://127.0.0.1:9", INSPECT_MLFLOW_SPOOL_DIR=str(spool_dir))
    result = _inspect_eval(tmp_path / "logs", env)
    assert result.returncode == 0, result.stderr  # the eval never fails because MLflow did
    output = " ".join((result.stdout + result.stderr).split())
    assert "is unavailable" in output and "python -m inspect_mlflow replay" in output
    (spool,) = spool_dir.glob("*.jsonl")

    db = tmp_path / "mlflow.db"
    shutil.copy(store_template, db)
    uri = f"sqlite:///{db}"
    replay = subprocess.run(
        [sys.executable, "-m", "inspect_mlflow", "replay", str(spool), "--tracking-uri", uri],
        env=_env(), capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    client = MlflowClient(uri)
    assert len(runs(client)) == 2
    (run,) = task_runs(client)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["samples/total"] == 8.0
    assert len(client.get_metric_history(run.info.run_id, "sample/match")) == 8
    assert len(table(client, run.info.run_id, "inspect/samples.json")["data"]) == 8


def test_log_command_backfills_and_reports_bad_input(tmp_path: Path, store_template: Path) -> None:
    result = _inspect_eval(tmp_path / "logs", _env())
    assert result.returncode == 0, result.stderr
    (log,) = (tmp_path / "logs").glob("*.eval")
    db = tmp_path / "mlflow.db"
    shutil.copy(store_template, db)
    uri = f"sqlite:///{db}"
    command = [sys.executable, "-m", "inspect_mlflow", "log", "--tracking-uri", uri]
    ok = subprocess.run(
        [*command, str(log)], env=_env(), capture_output=True, text=True, cwd=tmp_path
    )
    assert ok.returncode == 0, ok.stderr
    (run,) = task_runs(MlflowClient(uri))
    assert run.data.metrics["samples/total"] == 8.0
    missing = subprocess.run(
        [*command, str(tmp_path / "nope.eval")], env=_env(), capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "no log file at" in missing.stderr and "Traceback" not in missing.stderr


def test_an_interrupted_eval_marks_its_runs_killed(tmp_path: Path, store_template: Path) -> None:
    import signal
    import sqlite3
    import time

    db = tmp_path / "mlflow.db"
    shutil.copy(store_template, db)
    inspect_cli = Path(sys.executable).parent / "inspect"
    process = subprocess.Popen(
        [str(inspect_cli), "eval", "inspect_mlflow/arithmetic", "--model", "simulated/a",
         "-M", "latency=1", "-T", "samples=40", "--max-samples", "2",
         "--log-dir", str(tmp_path / "logs"), "--display", "none"],
        env=_env(MLFLOW_TRACKING_URI=f"sqlite:///{db}"), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until both runs exist, then a few samples more
        with sqlite3.connect(db) as connection:
            if connection.execute("select count(*) from runs").fetchone()[0] >= 2:
                break
        time.sleep(0.3)
    time.sleep(3)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: the writer gets it too
    process.communicate(timeout=120)
    assert process.returncode != 0
    client = MlflowClient(f"sqlite:///{db}")
    statuses = {run.info.run_name: run.info.status for run in runs(client)}
    assert set(statuses.values()) == {"KILLED"}, statuses
    (run,) = task_runs(client)
    assert run.data.metrics["samples/total"] == 40.0
    assert 0 < run.data.metrics["samples/completed"] < 40
