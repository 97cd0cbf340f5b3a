"""One typed settings model for the hooks, built from environment variables or Hydra config.

The hooks read :func:`current_settings`, which is either what the orchestrator (or a user)
installed with :func:`configure`, or the settings derived from the environment. Reading the
environment is cheap and cached by the values of the variables involved, so ``enabled()`` can
be called before every hook emission.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_EXPERIMENT = "inspect_ai"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable or key."""


class Settings(BaseModel):
    """Everything the hooks need to know; see the README's settings table for env vars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    """Master switch (``INSPECT_MLFLOW_ENABLED``)."""

    tracking_uri: str | None = None
    """MLflow tracking URI; the hooks are active only when one is configured."""

    experiment_name: str = DEFAULT_EXPERIMENT
    """Experiment that task runs and traces are logged to."""

    tracking: bool = True
    """Runs, params, metrics and tables (``INSPECT_MLFLOW_TRACKING``); off leaves tracing alone."""

    tracing: bool = False
    """One MLflow trace per sample (``MLFLOW_INSPECT_TRACING``)."""

    log_artifacts: bool = True
    """Log artifact tables (``INSPECT_MLFLOW_LOG_ARTIFACTS``)."""

    artifact_schema: str = "default"
    """Artifact-table schema set: a name under ``conf/artifacts`` or a path to a YAML file."""

    autolog_enabled: bool = False
    """Provider autolog (``INSPECT_MLFLOW_AUTOLOG_ENABLED``)."""

    autolog_models: tuple[str, ...] = ()
    """Providers to autolog; empty means every supported provider that is installed."""

    trace_max_chars: int = Field(default=20_000, ge=100)
    """Cap on the characters of any one payload (message, tool result) stored in a trace."""

    parent_run_id: str | None = None
    """Existing MLflow run to nest the per-run parent runs under (the orchestrator's sweep run)."""

    parent_run_key: str | None = None
    """Key of a run opened through this process's writer just before the eval (the
    orchestrator's sweep run, which may not exist in MLflow yet when the eval starts); the
    writer resolves it. Takes precedence over ``parent_run_id`` when the writer knows the key;
    not settable from the environment."""

    run_name_template: str = "{task}/{model}"
    """Name of task runs; fields: ``task``, ``model``, ``eval_id``."""

    extra_tags: dict[str, str] = Field(default_factory=dict)
    """Tags added to every run the hooks create."""

    writer: Literal["process", "thread"] = "process"
    """Where MLflow calls happen: a writer subprocess (default) or a thread in this process."""

    spool_dir: str | None = None
    """Where records that could not be written are kept for replay (default: under the log dir)."""

    @field_validator("tracking_uri")
    @classmethod
    def _blank_uri_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def active(self) -> bool:
        """True when the hooks should record anything at all."""
        return self.enabled and self.tracking_uri is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see the README's table)."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in ("INSPECT_MLFLOW_ENABLED",):
            if name in env:
                values["enabled"] = _parse_bool(name, env[name])
        uri = env.get("INSPECT_MLFLOW_TRACKING_URI") or env.get("MLFLOW_TRACKING_URI")
        if uri:
            values["tracking_uri"] = uri
        if env.get("MLFLOW_EXPERIMENT_NAME"):
            values["experiment_name"] = env["MLFLOW_EXPERIMENT_NAME"]
        if "INSPECT_MLFLOW_TRACKING" in env:
            values["tracking"] = _parse_bool(
                "INSPECT_MLFLOW_TRACKING", env["INSPECT_MLFLOW_TRACKING"]
            )
        if "MLFLOW_INSPECT_TRACING" in env:
            values["tracing"] = _parse_bool("MLFLOW_INSPECT_TRACING", env["MLFLOW_INSPECT_TRACING"])
        for name in ("INSPECT_MLFLOW_LOG_ARTIFACTS", "MLFLOW_INSPECT_LOG_ARTIFACTS"):
            if name in env:
                values["log_artifacts"] = _parse_bool(name, env[name])
                break
        if env.get("INSPECT_MLFLOW_ARTIFACT_SCHEMA"):
            values["artifact_schema"] = env["INSPECT_MLFLOW_ARTIFACT_SCHEMA"]
        if "INSPECT_MLFLOW_AUTOLOG_ENABLED" in env:
            values["autolog_enabled"] = _parse_bool(
                "INSPECT_MLFLOW_AUTOLOG_ENABLED", env["INSPECT_MLFLOW_AUTOLOG_ENABLED"]
            )
        if env.get("INSPECT_MLFLOW_AUTOLOG_MODELS"):
            values["autolog_models"] = tuple(
                m.strip() for m in env["INSPECT_MLFLOW_AUTOLOG_MODELS"].split(",") if m.strip()
            )
        if env.get("INSPECT_MLFLOW_TRACE_MAX_CHARS"):
            values["trace_max_chars"] = _parse_int(
                "INSPECT_MLFLOW_TRACE_MAX_CHARS", env["INSPECT_MLFLOW_TRACE_MAX_CHARS"]
            )
        if env.get("INSPECT_MLFLOW_PARENT_RUN_ID"):
            values["parent_run_id"] = env["INSPECT_MLFLOW_PARENT_RUN_ID"]
        if env.get("INSPECT_MLFLOW_WRITER"):
            values["writer"] = env["INSPECT_MLFLOW_WRITER"]
        if env.get("INSPECT_MLFLOW_SPOOL_DIR"):
            values["spool_dir"] = env["INSPECT_MLFLOW_SPOOL_DIR"]
        return cls.validated(values, source="environment variable")

    @classmethod
    def validated(cls, values: Mapping[str, object], source: str = "setting") -> Settings:
        """Build settings, turning pydantic's report into one readable :class:`SettingsError`."""
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValidationError as ex:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
                for err in ex.errors()
            )
            raise SettingsError(f"inspect_mlflow: invalid {source}: {problems}") from None


_ENV_KEYS = (
    "INSPECT_MLFLOW_ENABLED",
    "INSPECT_MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "INSPECT_MLFLOW_TRACKING",
    "MLFLOW_INSPECT_TRACING",
    "INSPECT_MLFLOW_LOG_ARTIFACTS",
    "MLFLOW_INSPECT_LOG_ARTIFACTS",
    "INSPECT_MLFLOW_ARTIFACT_SCHEMA",
    "INSPECT_MLFLOW_AUTOLOG_ENABLED",
    "INSPECT_MLFLOW_AUTOLOG_MODELS",
    "INSPECT_MLFLOW_TRACE_MAX_CHARS",
    "INSPECT_MLFLOW_PARENT_RUN_ID",
    "INSPECT_MLFLOW_WRITER",
    "INSPECT_MLFLOW_SPOOL_DIR",
)

_configured: Settings | None = None
_env_cache: tuple[tuple[str | None, ...], Settings] | None = None


def configure(settings: Settings | None) -> None:
    """Install settings for this process (the orchestrator does this); ``None`` reverts to env vars."""
    global _configured
    _configured = settings


_SWITCH_KEYS = (
    "INSPECT_MLFLOW_ENABLED",
    "INSPECT_MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "INSPECT_MLFLOW_TRACKING",
    "MLFLOW_INSPECT_TRACING",
)
_switch_cache: tuple[tuple[str | None, ...], tuple[bool, bool]] | None = None


def hooks_switched_on() -> tuple[bool, bool]:
    """Whether the tracking and the tracing hook are on, for their ``enabled()``.

    Inspect calls every hook's ``enabled()`` before every emission (~25 per sample), so this
    reads only the five variables that switch hooks on or off and rebuilds the settings only
    when one of them changed; the hooks read the full settings at run and task start.

    Raises:
        SettingsError: an environment variable has a value that cannot be used.
    """
    global _switch_cache
    if _configured is not None:
        return _decision(_configured)
    environ = os.environ
    snapshot = tuple(environ.get(key) for key in _SWITCH_KEYS)
    if _switch_cache is None or _switch_cache[0] != snapshot:
        _switch_cache = (snapshot, _decision(current_settings()))
    return _switch_cache[1]


def _decision(settings: Settings) -> tuple[bool, bool]:
    return (settings.active and settings.tracking, settings.active and settings.tracing)


def current_settings() -> Settings:
    """The settings in force: those from :func:`configure`, else from the environment.

    Raises:
        SettingsError: an environment variable has a value that cannot be used.
    """
    global _env_cache
    if _configured is not None:
        return _configured
    snapshot = tuple(os.environ.get(key) for key in _ENV_KEYS)
    if _env_cache is None or _env_cache[0] != snapshot:
        _env_cache = (snapshot, Settings.from_env())
    return _env_cache[1]


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(
        f"inspect_mlflow: environment variable {name}={raw!r} is not a boolean "
        "(use true/false, 1/0, yes/no or on/off)"
    )


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(
            f"inspect_mlflow: environment variable {name}={raw!r} is not an integer"
        ) from None
