"""Shared fixtures: real MLflow SQLite stores in temp dirs, hooks switched on per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Variables that would point the auto-registered hooks at a user's real MLflow.
_HOOK_ENV = (
    "MLFLOW_TRACKING_URI",
    "INSPECT_MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_INSPECT_TRACING",
    "INSPECT_MLFLOW_ENABLED",
    "INSPECT_MLFLOW_TRACKING",
    "INSPECT_MLFLOW_LOG_ARTIFACTS",
    "MLFLOW_INSPECT_LOG_ARTIFACTS",
    "INSPECT_MLFLOW_ARTIFACT_SCHEMA",
    "INSPECT_MLFLOW_AUTOLOG_ENABLED",
    "INSPECT_MLFLOW_AUTOLOG_MODELS",
    "INSPECT_MLFLOW_PARENT_RUN_ID",
    "INSPECT_MLFLOW_WRITER",
)


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test may log to the developer's own MLflow, or spool into their home directory."""
    saved = {name: os.environ.pop(name) for name in _HOOK_ENV if name in os.environ}
    os.environ["INSPECT_MLFLOW_SPOOL_DIR"] = str(tmp_path_factory.mktemp("spool"))
    os.environ.setdefault("INSPECT_DISPLAY", "none")
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store, made once (creating one costs ~7 s)."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path: Path, store_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite store for this test; artifacts land under the test's temp dir."""
    path = tmp_path / "mlflow.db"
    shutil.copy(store_template, path)
    monkeypatch.chdir(tmp_path)
    return f"sqlite:///{path}"


@pytest.fixture
def configure_hooks() -> Iterator[object]:
    """``configure_hooks(**settings)`` switches the hooks on for this test only."""
    from inspect_mlflow import Settings, configure

    def _configure(**values: object) -> Settings:
        settings = Settings.validated(values)
        configure(settings)
        return settings

    yield _configure
    configure(None)
