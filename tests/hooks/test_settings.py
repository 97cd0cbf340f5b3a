"""Settings from environment variables, and artifact schema validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspect_mlflow import Settings, SettingsError
from inspect_mlflow._records._tables import SchemaError, load_schema


def test_defaults_are_off_without_a_tracking_uri() -> None:
    settings = Settings.from_env({})
    assert settings.tracking_uri is None and not settings.active
    assert settings.experiment_name == "inspect_ai"
    assert settings.tracing is False and settings.log_artifacts is True
    assert settings.autolog_enabled is False and settings.autolog_models == ()


def test_environment_variables_and_precedence() -> None:
    settings = Settings.from_env(
        {
            "MLFLOW_TRACKING_URI": "sqlite:///a.db",
            "INSPECT_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
            "MLFLOW_EXPERIMENT_NAME": "evals",
            "MLFLOW_INSPECT_TRACING": "TRUE",
            "MLFLOW_INSPECT_LOG_ARTIFACTS": "0",
            "INSPECT_MLFLOW_AUTOLOG_ENABLED": "yes",
            "INSPECT_MLFLOW_AUTOLOG_MODELS": "openai, anthropic",
        }
    )
    assert settings.tracking_uri == "http://127.0.0.1:5000"  # INSPECT_MLFLOW_* wins
    assert settings.experiment_name == "evals"
    assert settings.tracing is True
    assert settings.log_artifacts is False  # legacy name honoured
    assert settings.autolog_enabled is True
    assert settings.autolog_models == ("openai", "anthropic")
    assert settings.active


def test_new_artifact_variable_wins_over_the_legacy_one() -> None:
    env = {"INSPECT_MLFLOW_LOG_ARTIFACTS": "true", "MLFLOW_INSPECT_LOG_ARTIFACTS": "false"}
    assert Settings.from_env(env).log_artifacts is True


def test_master_switch() -> None:
    env = {"MLFLOW_TRACKING_URI": "sqlite:///a.db", "INSPECT_MLFLOW_ENABLED": "off"}
    assert not Settings.from_env(env).active


@pytest.mark.parametrize(
    ("name", "value"),
    [("MLFLOW_INSPECT_TRACING", "maybe"), ("INSPECT_MLFLOW_ENABLED", "2"),
     ("INSPECT_MLFLOW_LOG_ARTIFACTS", "")],
)  # fmt: skip
def test_a_bad_boolean_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name}='{value}' is not a boolean"):
        Settings.from_env({name: value})


def test_a_bad_value_of_another_type_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="writer"):
        Settings.from_env({"INSPECT_MLFLOW_WRITER": "carrier-pigeon"})
    with pytest.raises(SettingsError, match="INSPECT_MLFLOW_TRACE_MAX_CHARS"):
        Settings.from_env({"INSPECT_MLFLOW_TRACE_MAX_CHARS": "lots"})


def test_settings_from_a_config_mapping_reject_unknown_keys() -> None:
    assert Settings.validated({"tracking_uri": "sqlite:///x.db", "tracing": True}).tracing
    with pytest.raises(SettingsError, match="tracking_urn"):
        Settings.validated({"tracking_urn": "sqlite:///x.db"})


def test_default_schema_covers_six_sources_with_epoch_columns() -> None:
    schema = load_schema("default")
    assert {t.source for t in schema.tables} == {
        "tasks", "samples", "messages", "sample_scores", "events", "model_usage"
    }  # fmt: skip
    for table in schema.tables:
        if any(c.path.startswith("sample.") for c in table.columns):
            assert "epoch" in table.column_names, table.name


def test_invalid_schema_names_the_bad_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  - name: t\n    source: samples\n    colums: []\n")
    with pytest.raises(SchemaError, match=r"tables\.0\.colums"):
        load_schema(str(bad))
    wrong_root = tmp_path / "root.yaml"
    wrong_root.write_text(
        "tables:\n  - name: t\n    source: messages\n    columns:\n      - {name: x, path: score.value}\n"
    )
    with pytest.raises(SchemaError, match=r"columns\.0\.path 'score\.value' must start with"):
        load_schema(str(wrong_root))
    with pytest.raises(SchemaError, match="no file"):
        load_schema("no-such-schema")
