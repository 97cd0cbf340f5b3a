"""Turn grid points into Inspect tasks, validating everything before Inspect runs anything.

A failed setup inside ``eval()`` can leave Inspect refusing further evals in the same
process, so unknown task files, bad task args, unknown model providers and invalid generate
config are all caught here and reported as :class:`ConfigError` (exit code 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._orchestrator._errors import ConfigError
from inspect_mlflow._orchestrator._plan import GridPoint

if TYPE_CHECKING:
    from inspect_ai import Task

POINT_METADATA_KEY = "inspect_mlflow_point"
"""Task metadata key carrying the grid point's key (maps logs back to points)."""


@dataclass
class ResolvedPoint:
    point: GridPoint
    task: Task
    sample_ids: list[str]
    """Ids of the samples that will run (after ``eval.limit``)."""

    @property
    def samples(self) -> int:
        return len(self.sample_ids)

    @property
    def epochs(self) -> int:
        return self.point.eval.epochs


def check_providers(points: Sequence[GridPoint]) -> None:
    """Every model (and role) names a registered model API; constructs nothing."""
    from inspect_ai._util.entrypoints import ensure_entry_points
    from inspect_ai._util.registry import registry_find, registry_info, registry_unqualified_name

    ensure_entry_points()
    known = {
        registry_unqualified_name(registry_info(api))
        for api in registry_find(lambda info: info.type == "modelapi")
    }
    for point in points:
        names = [("model.name", point.model.name)] + [
            (f"model.roles.{role}", name) for role, name in point.model.roles.items()
        ]
        for key, name in names:
            provider = name.split("/", 1)[0] if "/" in name else None
            if provider is None or provider not in known:
                raise ConfigError(
                    f"{key}: {name!r} is not a known model: "
                    + (
                        f"no model provider {provider!r} is installed"
                        if provider
                        else "use the form PROVIDER/MODEL"
                    )
                    + f" (providers: {', '.join(sorted(known))})"
                )


def resolve_points(
    points: Sequence[GridPoint], limit: int | None, construct_models: bool
) -> list[ResolvedPoint]:
    """Load each point's task and bind its model, generate config and per-task options.

    Args:
        points: The grid.
        limit: ``eval.limit`` (to count the samples that will run).
        construct_models: Create the model objects (checks credentials and model args);
            ``False`` for ``dry_run``, which only checks that the providers exist.
    """
    from inspect_ai import task_with
    from inspect_ai.model import GenerateConfig

    check_providers(points)
    resolved: list[ResolvedPoint] = []
    for point in points:
        task = _load_task(point)
        config = _generate_config(point, GenerateConfig)
        options: dict[str, Any] = {
            "epochs": point.eval.epochs,
            "metadata": {**(task.metadata or {}), POINT_METADATA_KEY: point.key},
        }
        for key in ("fail_on_error", "message_limit", "token_limit", "time_limit"):
            value = getattr(point.eval, key)
            if value is not None:
                options[key] = value
        if construct_models:
            options["model"] = _model(point, config)
            if point.model.roles:
                options["model_roles"] = {
                    role: _role_model(point, role, name) for role, name in point.model.roles.items()
                }
            options["config"] = config
        ids = [str(sample.id) for sample in task.dataset]
        if limit is not None:
            ids = ids[:limit]
        resolved.append(ResolvedPoint(point, task_with(task, **options), ids))
    return resolved


def _load_task(point: GridPoint) -> Task:
    from inspect_ai._eval.loader import load_tasks

    name, args = point.task.name, dict(point.task.args)
    file_part = name.split("@", 1)[0]
    if file_part.endswith(".py") and not Path(file_part).exists():
        raise ConfigError(
            f"task.name: task file {file_part!r} does not exist (relative to {Path.cwd()}); "
            "fix the path or use a registered task such as inspect_mlflow/arithmetic"
        )
    try:
        tasks = load_tasks([name], args)
    except TypeError as ex:
        raise ConfigError(
            f"task.args: {ex} (task {name!r}; check task.args against the task's parameters)"
        ) from None
    except Exception as ex:
        raise ConfigError(
            f"task.name: cannot load task {name!r}: {type(ex).__name__}: {ex}"
        ) from None
    if not tasks:
        raise ConfigError(
            f"task.name: no task named {name!r} was found; use FILE.py@NAME, a registered task "
            "name, or a package task such as inspect_mlflow/arithmetic"
        )
    if len(tasks) > 1:
        raise ConfigError(
            f"task.name: {name!r} refers to {len(tasks)} tasks; name one with FILE.py@NAME"
        )
    _check_task_args(tasks[0], name, args)
    return tasks[0]


def _check_task_args(task: Task, name: str, args: dict[str, Any]) -> None:
    """Inspect only warns about task args the task does not take; here they are an error."""
    import inspect

    from inspect_ai._util.registry import registry_info, registry_lookup

    try:
        function = registry_lookup("task", registry_info(task).name)
        params = list(registry_info(function).metadata.get("params", []))
        if callable(function) and any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in inspect.signature(function).parameters.values()
        ):
            return
    except Exception:
        return  # not a registered task function: nothing to check against
    unknown = sorted(set(args) - set(params))
    if unknown:
        raise ConfigError(
            f"task.args: {name!r} has no parameter(s) {', '.join(unknown)} "
            f"(its parameters: {', '.join(params) or 'none'})"
        )


def _generate_config(point: GridPoint, config_type: Any) -> Any:
    from pydantic import ValidationError

    values = point.model.generate_config()
    unknown = sorted(set(values) - set(config_type.model_fields))
    if unknown:
        raise ConfigError(
            f"model.generate: unknown generate option(s) {', '.join(unknown)} "
            f"(see inspect_ai.model.GenerateConfig for the supported fields)"
        )
    try:
        return config_type(**values)
    except ValidationError as ex:
        err = ex.errors()[0]
        key = ".".join(str(part) for part in err["loc"])
        where = f"model.{key}" if key in point.model.model_fields else f"model.generate.{key}"
        raise ConfigError(f"{where}: {err['msg']} (got {err.get('input')!r})") from None


def _model(point: GridPoint, config: Any) -> Any:
    from inspect_ai.model import get_model

    try:
        return get_model(
            point.model.name,
            config=config,
            base_url=point.model.base_url,
            memoize=False,
            **point.model.args,
        )
    except TypeError as ex:
        raise ConfigError(f"model.args: {ex} (model {point.model.name!r})") from None
    except Exception as ex:
        raise ConfigError(
            f"model: cannot create {point.model.name!r}: {type(ex).__name__}: {_first_line(ex)} "
            "(check model.name, model.args and the provider's API key environment variable)"
        ) from None


def _role_model(point: GridPoint, role: str, name: str) -> Any:
    from inspect_ai.model import get_model

    try:
        return get_model(name, memoize=False)
    except Exception as ex:
        raise ConfigError(
            f"model.roles.{role}: cannot create {name!r}: {type(ex).__name__}: {_first_line(ex)}"
        ) from None


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip().splitlines()
    return text[0] if text else ""
