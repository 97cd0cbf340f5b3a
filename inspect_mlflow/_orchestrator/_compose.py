"""Hydra-facing helpers: command-line pre-checks, composed config to plain data, job overrides.

Only Hydra and OmegaConf are imported here (no Inspect, no MLflow), so ``--help`` and config
errors are fast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_mlflow._orchestrator._errors import ConfigError

GROUPS = (
    "task", "model", "eval", "mlflow", "tracing", "autolog", "artifacts", "compare", "check",
    "sweep",
)  # fmt: skip
"""The orchestrator's config groups."""

_MULTIRUN_FLAGS = ("-m", "--multirun")


@dataclass(frozen=True)
class HydraContext:
    """What the orchestrator needs from Hydra's runtime config."""

    overrides: list[str]
    """The command line's overrides (for a multirun job: this job's own values)."""
    choices: dict[str, str]
    """Selected option of each config group (``model`` -> ``simulated``)."""
    config_yaml: str
    """The resolved composed configuration (logged to the sweep run)."""
    multirun: bool = False
    sweep_dir: str | None = None
    job_num: int | None = None
    swept: dict[str, Any] = field(default_factory=dict)
    """For a multirun job: its values of the swept keys."""


def check_command_line(args: Sequence[str]) -> None:
    """Refuse command lines Hydra would accept but get wrong.

    ``-m +sweep=a,b`` makes Hydra drop each sweep file's own sweep settings silently
    (Hydra issue 2807), so it is refused; run the sweeps one after another instead.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    overrides = [arg for arg in args if not arg.startswith("-") and "=" in arg]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception:
        return  # Hydra reports syntax errors itself, with the offending override
    for override in parsed:
        if override.key_or_group == "sweep" and override.is_sweep_override():
            raise ConfigError(
                f"'{override.input_line}': sweeping over several sweep files in one command is not "
                "supported (Hydra silently drops each file's sweep settings, Hydra issue 2807); "
                "run them one at a time, e.g. `python -m inspect_mlflow +sweep=NAME`, or sweep keys "
                "directly with -m KEY=A,B"
            )


def is_multirun(args: Sequence[str]) -> bool:
    return any(arg in _MULTIRUN_FLAGS for arg in args)


def to_data(cfg: Any) -> dict[str, Any]:
    """The composed config (without ``hydra``) as plain, resolved Python data."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError, MissingMandatoryValue

    data: dict[str, Any] = {}
    for key in cfg:
        if key == "hydra":  # present in a callback's config; resolving it needs a job
            continue
        try:
            value = cfg[key]
            data[str(key)] = (
                OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
                if OmegaConf.is_config(value)
                else value
            )
        except MissingMandatoryValue as ex:
            name = getattr(ex, "full_key", "") or str(key)
            raise ConfigError(f"{name}: required but not set (set it with {name}=VALUE)") from None
        except InterpolationResolutionError as ex:
            raise ConfigError(f"{getattr(ex, 'full_key', key)}: {ex}") from None
    return data


def hydra_context(data: Mapping[str, Any]) -> HydraContext:
    """Read the runtime facts from ``HydraConfig`` (inside a Hydra job); ``data`` is the
    job's configuration as :func:`to_data` returns it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hc = HydraConfig.get()
    choices = {str(k): str(v) for k, v in hc.runtime.choices.items() if v is not None}
    multirun = hc.mode == RunMode.MULTIRUN
    return HydraContext(
        overrides=list(hc.overrides.task),
        choices=choices,
        config_yaml=config_yaml(data),
        multirun=multirun,
        sweep_dir=str(Path(hc.sweep.dir).resolve()) if multirun else None,
        job_num=int(hc.job.num) if multirun and hc.job.num is not None else None,
    )


def config_yaml(data: Mapping[str, Any]) -> str:
    """The resolved configuration (:func:`to_data`) as YAML, for the sweep run's artifact
    (libyaml's emitter when PyYAML has it: OmegaConf's own takes ~50 ms here)."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(dict(data), Dumper=dumper, sort_keys=False, allow_unicode=True))


def override_params(overrides: Sequence[str]) -> dict[str, str]:
    """MLflow params of the sweep run: one per command-line override (``key`` -> value text)."""
    params: dict[str, str] = {}
    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep:
            continue
        key = key.lstrip("+~")
        key = re.sub(r"[^0-9A-Za-z_\-. /]", "_", key)[:250]
        params[key] = value
    return params


def swept_keys(
    overrides: Sequence[str], sweeper_params: Mapping[str, Any] | None = None
) -> list[str]:
    """Keys a multirun sweeps over (``-m model=a,b`` -> ``model``), in command-line order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = list(overrides) + [f"{k}={v}" for k, v in (sweeper_params or {}).items()]
    parsed = OverridesParser.create().parse_overrides(lines)
    keys: list[str] = []
    for override in parsed:
        if override.is_sweep_override() and override.key_or_group not in keys:
            keys.append(override.key_or_group)
    return keys


def job_axes(overrides: Sequence[str], keys: Sequence[str]) -> dict[str, Any]:
    """A job's values of the swept keys (group choices as option names)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values: dict[str, Any] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.key_or_group in keys:
            values[override.key_or_group] = override.value()
    return values


def expand_jobs(
    overrides: Sequence[str], sweeper_params: Mapping[str, Any] | None
) -> list[list[str]]:
    """The override list of each job of a basic-sweeper multirun (its cartesian product)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = list(overrides) + [f"{k}={v}" for k, v in (sweeper_params or {}).items()]
    parsed = OverridesParser.create().parse_overrides(lines)
    batches = BasicSweeper.split_arguments(parsed, None)
    return [list(job) for batch in batches for job in batch]


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe version of ``text``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.=\-]+", "_", text).strip("_")
    return cleaned[:limit] or "job"
