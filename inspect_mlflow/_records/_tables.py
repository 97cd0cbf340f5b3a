"""Declarative artifact-table schemas (YAML) and row extraction from Inspect objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inspect_mlflow._conf import conf_dir
from inspect_mlflow._records._values import to_cell

RowSource = Literal["tasks", "samples", "messages", "sample_scores", "events", "model_usage"]

#: The objects each row source offers to column paths.
SOURCE_ROOTS: dict[str, tuple[str, ...]] = {
    "tasks": ("log", "spec", "results", "stats"),
    "samples": ("sample", "cost"),
    "messages": ("sample", "message", "index"),
    "sample_scores": ("sample", "scorer", "score"),
    "events": ("sample", "event", "index"),
    "model_usage": ("model", "usage"),
}

#: Sources with one row set per sample (extracted as samples complete).
SAMPLE_SOURCES = ("samples", "messages", "sample_scores", "events")


class SchemaError(ValueError):
    """An artifact schema file is invalid; the message names the file and the bad key."""


class ColumnSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    path: str = Field(min_length=1)
    max_length: int | None = Field(default=None, ge=1)


class TableSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    source: RowSource
    file: str | None = None
    """Artifact path (default ``inspect/<name>.json``)."""
    columns: tuple[ColumnSchema, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _paths_start_at_a_root(self) -> TableSchema:
        roots = SOURCE_ROOTS[self.source]
        for index, column in enumerate(self.columns):
            if column.path.split(".")[0] not in roots:
                raise ValueError(
                    f"columns.{index}.path {column.path!r} must start with one of "
                    f"{', '.join(roots)} for source {self.source!r}"
                )
        return self

    @property
    def artifact_file(self) -> str:
        return self.file or f"inspect/{self.name}.json"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


class ArtifactSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: tuple[TableSchema, ...] = ()

    def for_source(self, source: str) -> list[TableSchema]:
        return [table for table in self.tables if table.source == source]


def resolve_schema_path(name_or_path: str) -> Path:
    """A schema given as a name in ``conf/artifacts`` (``default``) or as a YAML file path."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    return conf_dir() / "artifacts" / f"{name_or_path}.yaml"


@lru_cache(maxsize=16)
def load_schema(name_or_path: str) -> ArtifactSchema:
    """Load and validate a schema file; raises :class:`SchemaError` naming the bad key."""
    path = resolve_schema_path(name_or_path)
    if not path.is_file():
        raise SchemaError(f"artifact schema {name_or_path!r}: no file at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as ex:
        raise SchemaError(f"artifact schema {path}: not valid YAML: {ex}") from None
    try:
        return ArtifactSchema.model_validate(raw)
    except ValidationError as ex:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in ex.errors()
        )
        raise SchemaError(f"artifact schema {path}: {problems}") from None


def resolve_path(roots: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted path through attributes, dict keys and list indexes; ``None`` if absent."""
    root, *rest = path.split(".")
    return _follow(roots.get(root), rest)


def _follow(value: Any, parts: Sequence[str]) -> Any:
    for part in parts:
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        else:
            value = getattr(value, part, None)
    return value


@lru_cache(maxsize=256)
def _compiled(table: TableSchema) -> tuple[tuple[str, tuple[str, ...], int | None], ...]:
    """Each column's root, remaining path parts and length cap, split once per table."""
    compiled = []
    for column in table.columns:
        root, *rest = column.path.split(".")
        compiled.append((root, tuple(rest), column.max_length))
    return tuple(compiled)


def table_row(table: TableSchema, roots: Mapping[str, Any]) -> list[Any]:
    # called for every row of every table as samples finish: paths are pre-split
    return [
        to_cell(_follow(roots.get(root), rest), max_length)
        for root, rest, max_length in _compiled(table)
    ]


def sample_row_roots(source: str, sample: Any) -> Iterator[dict[str, Any]]:
    """The row objects a sample contributes to a per-sample source."""
    if source == "samples":
        yield {"sample": sample, "cost": sample_cost(sample)}
    elif source == "messages":
        for index, message in enumerate(sample.messages or []):
            yield {"sample": sample, "message": message, "index": index}
    elif source == "sample_scores":
        for scorer, score in (sample.scores or {}).items():
            yield {"sample": sample, "scorer": scorer, "score": score}
    elif source == "events":
        for index, event in enumerate(sample.events or []):
            yield {"sample": sample, "event": event, "index": index}


def sample_cost(sample: Any) -> float | None:
    """Total USD cost of a sample over all models, ``None`` when no model reported cost."""
    costs = [u.total_cost for u in (sample.model_usage or {}).values() if u.total_cost is not None]
    return float(sum(costs)) if costs else None
