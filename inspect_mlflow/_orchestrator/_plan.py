"""Expand a validated configuration into grid points, and pair candidates with baselines.

Pure functions of the configuration: no Inspect, no MLflow, nothing written. The same
expansion serves ``dry_run``, the single-process sweep and each job of a Hydra multirun.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from inspect_mlflow._orchestrator._errors import ConfigError, pydantic_problems
from inspect_mlflow._orchestrator._schema import (
    PER_TASK_EVAL_KEYS,
    CompareSpec,
    EvalOptions,
    ModelConfig,
    RunConfig,
    TaskConfig,
)

GENERATE_KEYS = (
    "temperature", "max_tokens", "top_p", "top_k", "seed", "max_connections",
    "reasoning_effort", "system_message", "generate",
)  # fmt: skip
"""Model keys that sweep model entries inherit from the ``model`` config."""


@dataclass(frozen=True)
class GridPoint:
    """One (task, model, parameters) combination: one Inspect task run."""

    index: int
    axes: dict[str, Any]
    """Axis name -> value: ``task`` and ``model`` (labels), then each swept key."""
    task: TaskConfig
    model: ModelConfig
    eval: EvalOptions
    key: str
    """Stable short hash of everything that makes this run distinct."""
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Other values a selector may use for an axis (``model``: name and config option)."""

    def matches(self, axis: str, value: Any) -> bool:
        wanted = norm(value)
        if norm(self.axes.get(axis)) == wanted:
            return True
        return any(norm(alias) == wanted for alias in self.aliases.get(axis, ()))

    def matches_all(self, selector: Mapping[str, Any]) -> bool:
        return all(self._matches_any(axis, value) for axis, value in selector.items())

    def _matches_any(self, axis: str, value: Any) -> bool:
        if isinstance(value, list):
            return any(self.matches(axis, item) for item in value)
        return self.matches(axis, value)

    def describe(self, axes: Sequence[str] | None = None) -> str:
        names = list(self.axes) if axes is None else list(axes)
        parts = []
        for name in names:
            value = self.axes.get(name)
            parts.append(str(value) if name in ("task", "model") else f"{name}={value}")
        return " ".join(parts)


@dataclass(frozen=True)
class Plan:
    """The expanded grid of one process (a single run, or one multirun job)."""

    name: str
    points: list[GridPoint]
    identity: str
    """Hash of the grid and the run options that change results (keys the default log dir)."""

    @property
    def axis_names(self) -> list[str]:
        return list(self.points[0].axes) if self.points else []

    def varying_axes(self) -> list[str]:
        return varying_axes(self.points)


def norm(value: Any) -> str:
    """Canonical text of an axis value, so ``0.5``, ``"0.5"`` and ``0.50`` select the same point."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, str):
        try:
            return repr(float(value))
        except ValueError:
            return value
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, default=str)


def expand(
    config: RunConfig,
    extra_axes: Mapping[str, Any] | None = None,
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Plan:
    """Expand ``config`` (with its ``sweep``, if any) into grid points.

    Args:
        config: The validated configuration.
        extra_axes: Axes fixed for this process (a multirun job's swept overrides).
        aliases: Extra selector values for the base ``task``/``model`` (their config options).

    Raises:
        ConfigError: a sweep entry or parameter value is invalid, or two points coincide.
    """
    sweep = config.sweep
    base = config.model_dump(mode="python")
    base["sweep"] = None
    model_entries: list[Any] = list(sweep.models) if sweep and sweep.models else [None]
    task_entries: list[Any] = list(sweep.tasks) if sweep and sweep.tasks else [None]
    params = list(sweep.params.items()) if sweep else []
    for key, _ in params:
        _check_axis_key(key)

    points: list[GridPoint] = []
    seen: dict[str, GridPoint] = {}
    labels: dict[str, dict[str, int]] = {"task": {}, "model": {}}
    for (t_index, t_entry), (m_index, m_entry), combo in itertools.product(
        enumerate(task_entries),
        enumerate(model_entries),
        itertools.product(*[list(enumerate(values)) for _, values in params]),
    ):
        data = copy.deepcopy(base)
        where: list[str] = []
        if m_entry is not None:
            data["model"] = _model_entry(base["model"], m_entry)
            where.append(f"sweep.models[{m_index}]")
        if t_entry is not None:
            data["task"] = _task_entry(t_entry)
            where.append(f"sweep.tasks[{t_index}]")
        axis_values: dict[str, Any] = {}
        for (key, _), (v_index, value) in zip(params, combo, strict=True):
            _set_dotted(data, key, value)
            axis_values[key] = value
            where.append(f"sweep.params.{key}[{v_index}]")
        point_config = _validate_point(data, where)
        _check_label(labels["model"], "model", point_config.model.display, m_index)
        _check_label(labels["task"], "task", point_config.task.display, t_index)
        axes: dict[str, Any] = {
            "task": point_config.task.display,
            "model": point_config.model.display,
            **axis_values,
            **(extra_axes or {}),
        }
        point_aliases = {
            "task": _unique([point_config.task.name, *(aliases or {}).get("task", ())]),
            "model": _unique([point_config.model.name, *(aliases or {}).get("model", ())]),
        }
        if m_entry is not None:
            point_aliases["model"] = (point_config.model.name,)
        if t_entry is not None:
            point_aliases["task"] = (point_config.task.name,)
        point = GridPoint(
            index=len(points),
            axes=axes,
            task=point_config.task,
            model=point_config.model,
            eval=point_config.eval,
            key=point_key(point_config),
            aliases=point_aliases,
        )
        if point.key in seen:
            raise ConfigError(
                f"the sweep has two identical grid points ({seen[point.key].describe()} and "
                f"{point.describe()}): remove the duplicate entry or give it different args"
            )
        seen[point.key] = point
        points.append(point)

    name = sweep.name if sweep else "single"
    return Plan(name=name, points=points, identity=plan_identity(points, config.eval))


def point_key(config: RunConfig) -> str:
    """Hash of what makes a grid point's results distinct."""
    identity = {
        "task": config.task.model_dump(exclude={"label"}),
        "model": config.model.model_dump(exclude={"label"}),
        "eval": {key: getattr(config.eval, key) for key in PER_TASK_EVAL_KEYS},
    }
    return _hash(identity)[:12]


def plan_identity(points: Sequence[GridPoint], options: EvalOptions) -> str:
    """Hash of the grid and the eval options that change which samples run."""
    return _hash(
        {
            "points": sorted(point.key for point in points),
            "limit": options.limit,
        }
    )[:8]


def varying_axes(points: Sequence[GridPoint]) -> list[str]:
    if not points:
        return []
    return [
        axis for axis in points[0].axes if len({norm(point.axes.get(axis)) for point in points}) > 1
    ]


def plan_comparisons(
    points: Sequence[GridPoint], spec: CompareSpec
) -> list[tuple[GridPoint, GridPoint]]:
    """Pair each candidate with the baseline that differs from it only on the baseline's axes.

    The baseline selector (``compare.baseline``) fixes some axes (e.g. ``model``); by default
    it is the first value of the first axis other than ``task`` that varies. Candidates are
    the other points (or those matching ``compare.candidates``).

    Raises:
        ConfigError: a selector names an unknown axis or matches no grid point, or no
            candidate has a baseline.
    """
    if not spec.enabled or len(points) < 2:
        return []
    axes = list(points[0].axes)
    selector: dict[str, Any] = dict(spec.baseline)
    if not selector:
        choices = [axis for axis in varying_axes(points) if axis != "task"]
        if not choices:
            return []
        selector = {choices[0]: points[0].axes[choices[0]]}
    for where, keys in (("compare.baseline", selector), ("compare.candidates", spec.candidates)):
        for key in keys:
            if key not in axes:
                raise ConfigError(
                    f"{where}.{key}: {key!r} is not an axis of this grid; the axes are "
                    f"{', '.join(axes)} (fix: {where}={{{axes[1] if len(axes) > 1 else axes[0]}: VALUE}})"
                )
    if not any(point.matches_all(selector) for point in points):
        key, value = next(iter(selector.items()))
        values = sorted({str(point.axes[key]) for point in points})
        raise ConfigError(
            f"compare.baseline: {_selector_text(selector)} matches no grid point; {key} takes the "
            f"values {', '.join(values)} (fix: compare.baseline.{key}={values[0]}, "
            "or +compare.baseline.KEY=VALUE for another axis)"
        )

    pairs: list[tuple[GridPoint, GridPoint]] = []
    orphans: list[GridPoint] = []
    for candidate in points:
        if candidate.matches_all(selector):
            continue
        if spec.candidates and not candidate.matches_all(spec.candidates):
            continue
        baseline = next(
            (
                point
                for point in points
                if point.matches_all(selector)
                and all(
                    norm(point.axes[axis]) == norm(candidate.axes[axis])
                    for axis in axes
                    if axis not in selector
                )
            ),
            None,
        )
        if baseline is None:
            orphans.append(candidate)
        else:
            pairs.append((baseline, candidate))
    if not pairs and orphans:
        raise ConfigError(
            f"compare.baseline: no candidate has a baseline point ({_selector_text(selector)}) with "
            f"the same other axes (e.g. {orphans[0].describe()}); add the baseline to the grid "
            "or change compare.baseline"
        )
    if spec.candidates and not pairs:
        raise ConfigError(
            f"compare.candidates: {_selector_text(spec.candidates)} matches no grid point other "
            "than the baseline"
        )
    return pairs


def _selector_text(selector: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{key}: {value}" for key, value in selector.items()) + "}"


def _check_axis_key(key: str) -> None:
    parts = key.split(".")
    if parts[0] not in ("model", "task", "eval") or len(parts) < 2:
        raise ConfigError(
            f"sweep.params.{key}: only model.*, task.* and eval.<key> can be sweep axes; "
            f"to vary {parts[0]!r} use Hydra multirun: -m {key}=A,B"
        )
    if parts[0] == "eval" and (len(parts) != 2 or parts[1] not in PER_TASK_EVAL_KEYS):
        raise ConfigError(
            f"sweep.params.{key}: eval.{parts[1]} applies to the whole eval set and cannot differ "
            f"between grid points (per-point eval keys: {', '.join(PER_TASK_EVAL_KEYS)}); "
            f"vary it with Hydra multirun instead: -m {key}=A,B"
        )
    if parts[0] in ("model", "task") and parts[1] in ("name", "label"):
        raise ConfigError(
            f"sweep.params.{key}: list the {parts[0]}s under sweep.{parts[0]}s instead of "
            f"sweeping {parts[0]}.{parts[1]}"
        )


def _model_entry(base_model: dict[str, Any], entry: Any) -> dict[str, Any]:
    """A sweep model entry stands alone, but inherits the ``model`` config's generate keys."""
    values = {"name": entry} if isinstance(entry, str) else dict(entry)
    inherited = {key: copy.deepcopy(base_model[key]) for key in GENERATE_KEYS if key in base_model}
    if "generate" in values and isinstance(values["generate"], Mapping):
        values["generate"] = {**inherited.get("generate", {}), **values["generate"]}
    return {**inherited, **values}


def _task_entry(entry: Any) -> dict[str, Any]:
    return {"name": entry} if isinstance(entry, str) else dict(entry)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        if not isinstance(node, dict):
            raise ConfigError(
                f"sweep.params.{key}: {'.'.join(parts[: depth + 1])} is not a mapping"
            )
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"sweep.params.{key}: {'.'.join(parts[:-1])} is not a mapping")
    node[parts[-1]] = copy.deepcopy(value)


def _validate_point(data: dict[str, Any], where: list[str]) -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as ex:
        origin = ", ".join(where) or "the configuration"
        lines = pydantic_problems(ex.errors())
        raise ConfigError(f"invalid grid point ({origin}): " + "; ".join(lines)) from None


def _check_label(owners: dict[str, int], axis: str, label: str, entry: int) -> None:
    """Two different sweep entries must not share a label (selectors could not tell them apart)."""
    if owners.setdefault(label, entry) != entry:
        raise ConfigError(
            f"sweep.{axis}s[{owners[label]}] and sweep.{axis}s[{entry}] are both labelled "
            f"{label!r}; give each a distinct `label`"
        )


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(value for value in values if value))


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
