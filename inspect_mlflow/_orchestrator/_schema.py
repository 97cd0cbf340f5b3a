"""Pydantic models of the orchestrator configuration, validated after Hydra composes it.

Hydra composes plain YAML (OmegaConf cannot hold ``Literal`` types and pydantic models
cannot be structured configs), then :func:`validate_config` turns the container into these
models and reports every problem at once, each naming its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inspect_mlflow._orchestrator._errors import ConfigError, pydantic_problems

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskConfig(_Strict):
    """``task`` group: an Inspect task reference and its args."""

    name: str = Field(min_length=1)
    """``file.py@name``, ``file.py``, a registry name or a package task (``pkg/name``)."""
    label: str | None = None
    """Short name in tables and comparison selectors (default: ``name``)."""
    args: dict[str, Any] = Field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name


class ModelConfig(_Strict):
    """``model`` group: model name, model args, generate config and roles."""

    name: str = Field(min_length=1)
    label: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    base_url: str | None = None
    roles: dict[str, str] = Field(default_factory=dict)
    """Model roles: role name -> model name (e.g. ``grader: openai/gpt-4o``)."""
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, ge=1)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = None
    max_connections: int | None = Field(default=None, ge=1)
    reasoning_effort: str | None = None
    system_message: str | None = None
    generate: dict[str, Any] = Field(default_factory=dict)
    """Any other ``GenerateConfig`` field (checked against Inspect's model before running)."""

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def provider(self) -> str:
        return self.name.split("/", 1)[0]

    def generate_config(self) -> dict[str, Any]:
        """The ``GenerateConfig`` fields this model sets."""
        named = {
            key: getattr(self, key)
            for key in (
                "temperature", "max_tokens", "top_p", "top_k", "seed", "max_connections",
                "reasoning_effort", "system_message",
            )
            if getattr(self, key) is not None
        }  # fmt: skip
        return {**self.generate, **named}


class EvalOptions(_Strict):
    """``eval`` group: Inspect run options."""

    limit: int | None = Field(default=None, ge=1)
    epochs: int = Field(default=1, ge=1)
    max_samples: int | None = Field(default=None, ge=1)
    max_tasks: int | None = Field(default=None, ge=1)
    max_connections: int | None = Field(default=None, ge=1)
    log_dir: str | None = None
    retry_attempts: int | None = Field(default=None, ge=0)
    retry_wait: float | None = Field(default=None, ge=0)
    fail_on_error: bool | float | None = None
    display: Literal["full", "conversation", "rich", "plain", "log", "none"] | None = None
    log_level: str | None = None
    message_limit: int | None = Field(default=None, ge=1)
    token_limit: int | None = Field(default=None, ge=1)
    time_limit: int | None = Field(default=None, ge=1)


PER_TASK_EVAL_KEYS = ("epochs", "fail_on_error", "message_limit", "token_limit", "time_limit")
"""``eval`` keys that can differ between grid points (they are options of an Inspect Task)."""


class MlflowConfig(_Strict):
    """``mlflow`` group."""

    enabled: bool = True
    tracking_uri: str | None = None
    experiment_name: str = Field(default="inspect_ai", min_length=1)
    run_name_template: str = "{task}/{model}"
    sweep_run_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    writer: Literal["process", "thread"] = "process"
    spool_dir: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_text(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _uri_when_enabled(self) -> MlflowConfig:
        if self.enabled and not self.tracking_uri:
            raise ValueError(
                "mlflow.tracking_uri is empty: set it (e.g. mlflow.tracking_uri=sqlite:///mlflow.db) "
                "or turn MLflow off with mlflow=disabled"
            )
        return self


class TracingConfig(_Strict):
    enabled: bool = False
    max_chars: int = Field(default=20_000, ge=100)


class AutologConfig(_Strict):
    enabled: bool = False
    models: list[str] = Field(default_factory=list)


def flatten(value: Any) -> Any:
    """``{model: {temperature: X}}`` (what ``+sweep.params.model.temperature=X`` composes to) is
    the same axis as ``{model.temperature: X}``; non-mappings are returned as they are."""
    if not isinstance(value, Mapping) or not value:
        return value
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping) and node:
            for key, item in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            flat[prefix] = node

    walk("", value)
    return flat


class CompareSpec(_Strict):
    """``compare`` group: which grid point is the baseline, which are candidates, how to test."""

    enabled: bool = True
    baseline: dict[str, Scalar] = Field(default_factory=dict)
    candidates: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    scorers: list[str] | None = None
    significance: float = Field(default=0.05, gt=0, lt=1)
    correction: Literal["holm", "bh", "none"] = "holm"
    cluster: str | None = None
    method: Literal["auto", "t", "bootstrap"] = "auto"
    regression_threshold: float = Field(default=0.0, ge=0)
    plot: bool = True
    samples_table: bool = True

    @field_validator("baseline", "candidates", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        return flatten(value)


class Gate(_Strict):
    """One regression gate on one metric; each criterion set gives its own PASS/FAIL/INCONCLUSIVE."""

    metric: str = Field(min_length=1)
    """A score metric (``match``, ``match/accuracy``, a glob such as ``*``) or a run metric
    (``cost/total_usd``, ``tokens/total``, ``latency/p50``, ``latency/p95``, ``samples/errors``)."""
    name: str | None = None
    max_drop: float | None = Field(default=None, ge=0)
    """Non-inferiority margin: the candidate may be at most this much lower (absolute)."""
    max_drop_relative: float | None = Field(default=None, ge=0)
    """Non-inferiority margin as a fraction of the baseline value."""
    max_increase: float | None = Field(default=None, ge=0)
    """The candidate may be at most this much higher (absolute); for lower-is-better metrics."""
    max_increase_relative: float | None = Field(default=None, ge=0)
    """The candidate may be at most this fraction higher than the baseline."""
    min_value: float | None = None
    """Absolute floor on the candidate's value."""
    max_value: float | None = None
    """Absolute ceiling on the candidate's value."""
    on_inconclusive: Literal["warn", "fail", "pass"] | None = None
    """What an INCONCLUSIVE result does (default: the spec's ``on_inconclusive``)."""

    @model_validator(mode="after")
    def _has_a_criterion(self) -> Gate:
        if not self.criteria():
            raise ValueError(
                f"gate on {self.metric!r} sets no criterion: add one of max_drop, "
                "max_drop_relative, max_increase, max_increase_relative, min_value, max_value"
            )
        return self

    def criteria(self) -> list[tuple[str, float]]:
        """The criteria this gate sets, as (kind, threshold), in a fixed order."""
        kinds = (
            "max_drop", "max_drop_relative", "max_increase", "max_increase_relative",
            "min_value", "max_value",
        )  # fmt: skip
        return [
            (kind, float(getattr(self, kind))) for kind in kinds if getattr(self, kind) is not None
        ]


class CheckSpec(_Strict):
    """``check`` group (also the ``--spec`` file of ``python -m inspect_mlflow check``)."""

    significance: float | None = Field(default=None, gt=0, lt=1)
    """Level of the tests and confidence intervals (null: the comparison's, 0.05)."""
    correction: Literal["holm", "bh", "none"] | None = None
    """Multiplicity correction across all gates and comparisons (null: the comparison's)."""
    on_inconclusive: Literal["warn", "fail", "pass"] = "warn"
    gates: list[Gate] = Field(default_factory=list)
    junit: str | None = None
    """Write a JUnit XML report here."""
    markdown: str | None = None
    """Write a Markdown report here (``$GITHUB_STEP_SUMMARY`` gets one too when set)."""


_SWEEP_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class SweepSpec(_Strict):
    """``+sweep=NAME``: a grid of models x tasks x parameter values run by one ``eval_set``."""

    name: str
    description: str | None = None
    models: list[str | dict[str, Any]] = Field(default_factory=list)
    """Each entry: a model name, or keys of the ``model`` group merged over the ``model`` config."""
    tasks: list[str | dict[str, Any]] = Field(default_factory=list)
    """Each entry: a task reference, or keys of the ``task`` group merged over the ``task`` config."""
    params: dict[str, list[Any]] = Field(default_factory=dict)
    """Dotted config key -> values, e.g. ``model.temperature: [0.0, 0.7]``, ``eval.epochs: [1, 2]``."""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _SWEEP_NAME.match(value):
            raise ValueError("use letters, digits, '_', '-' and '.' only")
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        return flatten(value)

    @field_validator("params")
    @classmethod
    def _non_empty_axes(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"axis {key!r} has no values")
        return value


class RunConfig(_Strict):
    """The whole composed configuration (``conf/config.yaml`` and its groups)."""

    task: TaskConfig
    model: ModelConfig
    eval: EvalOptions = Field(default_factory=EvalOptions)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    autolog: AutologConfig = Field(default_factory=AutologConfig)
    artifacts: dict[str, Any] = Field(default_factory=dict)
    """The selected artifact-table schema (``conf/artifacts/<option>.yaml``), as composed."""
    compare: CompareSpec = Field(default_factory=CompareSpec)
    check: CheckSpec = Field(default_factory=CheckSpec)
    sweep: SweepSpec | None = None
    dry_run: bool = False


def validate_config(data: Mapping[str, Any], what: str = "configuration") -> RunConfig:
    """Validate a composed configuration; raises :class:`ConfigError` listing every problem."""
    try:
        return RunConfig.model_validate(dict(data))
    except ValidationError as ex:
        raise ConfigError(_problem_text(what, pydantic_problems(ex.errors()))) from None


def validate_check_spec(data: Any, source: str) -> CheckSpec:
    """Validate a check spec (from the ``check`` group or a ``--spec`` file)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a check spec must be a mapping with a 'gates' list")
    try:
        return CheckSpec.model_validate(dict(data))
    except ValidationError as ex:
        raise ConfigError(_problem_text(source, pydantic_problems(ex.errors()))) from None


def _problem_text(what: str, lines: list[str]) -> str:
    if len(lines) == 1:
        return f"invalid {what}: {lines[0]}"
    return f"invalid {what}:\n" + "\n".join(f"  - {line}" for line in lines)
