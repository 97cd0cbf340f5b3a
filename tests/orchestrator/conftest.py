"""Fixtures for the orchestrator: the CLI in a subprocess, a workspace with a fresh store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

USER_CONF = Path(__file__).parent / "conf"
"""A user config dir (``--config-dir``): a model option and the ``planted`` sweep."""

UNREACHABLE = "http://127.0.0.1:9"
"""A tracking URI nothing listens on."""


@dataclass
class Workspace:
    """A directory with its own SQLite store, where the CLI runs."""

    path: Path

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.path / 'mlflow.db'}"

    def cli(
        self, *args: str, timeout: float = 240, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``python -m inspect_mlflow ARGS`` in this directory (MLflow at this store)."""
        environ = {**os.environ, "INSPECT_DISPLAY": "none", **(env or {})}
        for name in (
            "MLFLOW_TRACKING_URI",
            "INSPECT_MLFLOW_TRACKING_URI",
            "MLFLOW_EXPERIMENT_NAME",
        ):
            environ.pop(name, None)
        return subprocess.run(
            [sys.executable, "-m", "inspect_mlflow", *args, f"mlflow.tracking_uri={self.uri}"]
            if args and args[0] not in ("check",)
            else [sys.executable, "-m", "inspect_mlflow", *args],
            cwd=self.path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def offline(self, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        """``python -m inspect_mlflow ARGS`` with MLflow unreachable; returns its spool dir."""
        spool_dir = self.path / "spool"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env["INSPECT_DISPLAY"] = "none"
        result = subprocess.run(
            [sys.executable, "-m", "inspect_mlflow", *args, f"mlflow.spool_dir={spool_dir}",
             f"mlflow.tracking_uri={UNREACHABLE}"],
            cwd=self.path, env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        return result, spool_dir

    def replay(self, spool: Path) -> subprocess.CompletedProcess[str]:
        """``python -m inspect_mlflow replay SPOOL`` into this workspace's store."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        return subprocess.run(
            [sys.executable, "-m", "inspect_mlflow", "replay", str(spool),
             "--tracking-uri", self.uri],
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def runs(self, experiment: str = "inspect_ai") -> list[Any]:
        client = self.client()
        found = client.get_experiment_by_name(experiment)
        if found is None:
            return []
        return list(client.search_runs([found.experiment_id], max_results=1000))


def make_workspace(root: Path, store_template: Path) -> Workspace:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(store_template, root / "mlflow.db")
    return Workspace(root)


@pytest.fixture
def workspace(tmp_path: Path, store_template: Path) -> Workspace:
    return make_workspace(tmp_path / "ws", store_template)


def kind(run: Any) -> str:
    return str(
        run.data.tags.get(
            "inspect_mlflow.kind", "task" if "inspect.eval_id" in run.data.tags else "other"
        )
    )


def by_kind(runs: list[Any], name: str) -> list[Any]:
    return [run for run in runs if kind(run) == name]


def eval_set_runs(runs: list[Any]) -> list[Any]:
    """The hooks' eval-set parent runs."""
    return [
        run
        for run in runs
        if "inspect.eval_set_id" in run.data.tags and "inspect.eval_id" not in run.data.tags
    ]


def parent(run: Any) -> str | None:
    return run.data.tags.get("mlflow.parentRunId")


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
