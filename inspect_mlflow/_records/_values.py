"""Turn arbitrary Inspect values into MLflow-safe cells, params and metric names."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from inspect_mlflow._records._redact import redact

PARAM_VALUE_LIMIT = 6000
PARAM_KEY_LIMIT = 250
TAG_VALUE_LIMIT = 5000
_TRUNCATED = "...[truncated]"
_UNSAFE_NAME_CHARS = re.compile(r"[^0-9A-Za-z_\-. /:]")


def truncate(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    if limit is None or len(text) <= limit:
        return text
    keep = max(0, limit - len(_TRUNCATED))
    return text[:keep] + _TRUNCATED


def to_jsonable(value: Any) -> Any:
    """Plain JSON-compatible data from pydantic models, dataclasses and containers."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def to_text(value: Any) -> str:
    """A readable string for any value (JSON for structures)."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel) and hasattr(value, "text") and hasattr(value, "role"):
        return str(value.text)  # a chat message
    if isinstance(value, list) and value and all(hasattr(v, "role") for v in value):
        return "\n".join(f"{v.role}: {v.text}" for v in value)  # a conversation
    return json.dumps(redact(to_jsonable(value)), default=str, ensure_ascii=False)


def to_cell(value: Any, max_length: int | None = None) -> Any:
    """A table cell: numbers and booleans stay typed (floats stay floats), the rest is text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return truncate(value, max_length)
    if isinstance(value, datetime):
        return value.isoformat()
    return truncate(to_text(value), max_length)


def param_value(value: Any) -> str:
    """A param value within MLflow's limit, credentials removed."""
    text = value if isinstance(value, str) else json.dumps(redact(to_jsonable(value)), default=str)
    return truncate(text, PARAM_VALUE_LIMIT)


@lru_cache(maxsize=4096)
def metric_name(name: str) -> str:
    """``name`` with characters MLflow rejects in metric keys replaced by ``_``."""
    return _UNSAFE_NAME_CHARS.sub("_", name)[:PARAM_KEY_LIMIT]


def as_float(value: Any) -> float | None:
    """A finite float for numeric or boolean values; ``None`` otherwise."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None
