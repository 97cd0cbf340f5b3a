"""What a single-process sweep and a Hydra multirun share: point results, identity and the
hooks' settings."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inspect_mlflow._conf import conf_dir
from inspect_mlflow._orchestrator._errors import ConfigError
from inspect_mlflow._orchestrator._plan import GridPoint
from inspect_mlflow._orchestrator._schema import EvalOptions, ModelConfig, RunConfig, TaskConfig
from inspect_mlflow._settings import Settings

Printer = Callable[[str], None]


@dataclass
class PointRun:
    """A grid point after the evals: where its log is and how it went."""

    point: GridPoint
    status: str
    """Inspect's log status (``success``, ``error``, ``cancelled``, ``started``) or ``missing``."""
    log_file: str | None = None
    eval_id: str | None = None
    eval_set_id: str | None = None
    error: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    """``scorer/metric`` -> value, from the log header."""
    samples: int = 0

    def to_json(self) -> dict[str, Any]:
        point = self.point
        return {
            "point": {
                "index": point.index,
                "axes": point.axes,
                "task": point.task.model_dump(mode="json"),
                "model": point.model.model_dump(mode="json"),
                "eval": point.eval.model_dump(mode="json"),
                "key": point.key,
                "aliases": {k: list(v) for k, v in point.aliases.items()},
            },
            "status": self.status,
            "log_file": self.log_file,
            "eval_id": self.eval_id,
            "eval_set_id": self.eval_set_id,
            "error": self.error,
            "scores": self.scores,
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointRun:
        p = data["point"]
        point = GridPoint(
            index=int(p["index"]),
            axes=dict(p["axes"]),
            task=TaskConfig.model_validate(p["task"]),
            model=ModelConfig.model_validate(p["model"]),
            eval=EvalOptions.model_validate(p["eval"]),
            key=str(p["key"]),
            aliases={k: tuple(v) for k, v in p.get("aliases", {}).items()},
        )
        return cls(
            point=point,
            status=str(data["status"]),
            log_file=data.get("log_file"),
            eval_id=data.get("eval_id"),
            eval_set_id=data.get("eval_set_id"),
            error=data.get("error"),
            scores={k: float(v) for k, v in (data.get("scores") or {}).items()},
            samples=int(data.get("samples") or 0),
        )


# ---- identity --------------------------------------------------------------------------


def absolute_uri(uri: str) -> str:
    """A relative ``sqlite:///file.db`` made absolute, so every process opens the same store."""
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        path = uri[len(prefix) :]
        if path and path != ":memory:":
            return prefix + str(Path(path).resolve())
    return uri


def resolve_log_dir(options: EvalOptions, name: str, identity: str) -> Path:
    """``eval.log_dir``, or ``logs/<name>-<identity>`` so the same sweep finds its logs again."""
    if options.log_dir:
        return Path(options.log_dir).expanduser().resolve()
    return (Path("logs") / f"{name}-{identity}").resolve()


def sweep_key(experiment: str, log_dir: Path | str) -> str:
    """The sweep run's key (``inspect.key`` tag): one sweep run per log dir and experiment."""
    digest = hashlib.sha256(f"{experiment}|{Path(log_dir).resolve()}".encode()).hexdigest()
    return f"sweep:{digest[:20]}"


# ---- settings for the hooks --------------------------------------------------------------


def artifact_setting(
    choice: str | None, composed: Mapping[str, Any], spill_dir: Path | None
) -> tuple[bool, str]:
    """(log_artifacts, artifact_schema) for the hooks from the ``artifacts`` group.

    A packaged option is passed by name; a user's option (``--config-dir``) is written to
    ``spill_dir`` and passed by path. ``None`` for ``spill_dir`` only validates.
    """
    from inspect_mlflow._records._tables import ArtifactSchema

    try:
        schema = ArtifactSchema.model_validate(dict(composed))
    except Exception as ex:
        raise ConfigError(f"artifacts: invalid artifact-table schema ({choice}): {ex}") from None
    if not schema.tables:
        return False, "default"
    if choice:
        packaged = conf_dir() / "artifacts" / f"{choice}.yaml"
        if packaged.is_file() and yaml.safe_load(packaged.read_text(encoding="utf-8")) == dict(
            composed
        ):
            return True, choice
    if spill_dir is None:
        return True, choice or "default"
    spill_dir.mkdir(parents=True, exist_ok=True)
    path = spill_dir / "artifacts.yaml"
    path.write_text(yaml.safe_dump(dict(composed), sort_keys=False), encoding="utf-8")
    return True, str(path)


def _tracking_uri(config: RunConfig) -> str | None:
    mlflow = config.mlflow
    return absolute_uri(mlflow.tracking_uri) if mlflow.enabled and mlflow.tracking_uri else None


def sink_settings(config: RunConfig) -> Settings:
    """What picks the writer (the sink's identity): the same as :func:`hook_settings`', so the
    orchestrator's requests and the hooks' records share one writer, in order."""
    return Settings.validated(
        {
            "tracking_uri": _tracking_uri(config),
            "writer": config.mlflow.writer,
            "spool_dir": config.mlflow.spool_dir,
        },
        source="mlflow configuration",
    )


def hook_settings(
    config: RunConfig,
    artifacts: tuple[bool, str],
    sweep_name: str,
    parent_run_id: str | None = None,
    parent_run_key: str | None = None,
) -> Settings:
    """The hooks' settings for this sweep (same model as the env vars)."""
    mlflow = config.mlflow
    return Settings.validated(
        {
            "enabled": mlflow.enabled,
            "tracking_uri": _tracking_uri(config),
            "experiment_name": mlflow.experiment_name,
            "tracing": config.tracing.enabled,
            "trace_max_chars": config.tracing.max_chars,
            "log_artifacts": artifacts[0],
            "artifact_schema": artifacts[1],
            "autolog_enabled": config.autolog.enabled,
            "autolog_models": tuple(config.autolog.models),
            "parent_run_id": parent_run_id,
            "parent_run_key": parent_run_key,
            "run_name_template": mlflow.run_name_template,
            "extra_tags": {**git_tags(), **mlflow.tags, "inspect_mlflow.sweep": sweep_name},
            "writer": mlflow.writer,
            "spool_dir": mlflow.spool_dir,
        },
        source="mlflow/tracing/autolog configuration",
    )


def console(text: str) -> None:
    print(text, file=sys.stdout, flush=True)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


_CI_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME")
"""Where CI systems put the branch when the checkout is a detached HEAD."""


_git_tags_cache: dict[tuple[str, ...], dict[str, str]] = {}


def forget_git_tags() -> None:
    """Read them again (a new ``run_app``: the checkout may have moved)."""
    _git_tags_cache.clear()


def git_tags(cwd: Path | None = None) -> dict[str, str]:
    """Commit and branch of the working directory's git checkout, if any.

    They go on the sweep run and (through the hooks) on every task run, so a check can pick
    "the latest run of the main branch" with ``mlflow:tags.`mlflow.source.git.branch` = 'main'``.
    Read once per directory (and CI branch variables) in a process: each read runs git twice.
    """
    where = str(Path(cwd or os.getcwd()).resolve())
    cache_key = (where, *(os.environ.get(v, "") for v in _CI_BRANCH_VARIABLES))
    if cache_key not in _git_tags_cache:
        _git_tags_cache[cache_key] = _read_git_tags(Path(where))
    return dict(_git_tags_cache[cache_key])


def _read_git_tags(cwd: Path) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag, args in (
        ("mlflow.source.git.commit", ["rev-parse", "HEAD"]),
        ("mlflow.source.git.branch", ["rev-parse", "--abbrev-ref", "HEAD"]),
    ):
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return tags
        if out.returncode == 0 and out.stdout.strip():
            tags[tag] = out.stdout.strip()
    if tags.get("mlflow.source.git.branch", "HEAD") == "HEAD":
        tags.pop("mlflow.source.git.branch", None)
        branch = next((os.environ[v] for v in _CI_BRANCH_VARIABLES if os.environ.get(v)), None)
        if branch and tags:
            tags["mlflow.source.git.branch"] = branch
    return tags
