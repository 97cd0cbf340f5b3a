"""Errors the orchestrator reports to the user, and the exit codes they map to."""

from __future__ import annotations

from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
"""A check failed, or an eval did not complete."""
EXIT_USAGE = 2
"""Bad configuration or usage: nothing was run."""


class ConfigError(ValueError):
    """The configuration or command line cannot be used; nothing has been run.

    The message names the key at fault and how to fix it.
    """


def pydantic_problems(errors: list[Any], prefix: str = "") -> list[str]:
    """Readable lines for pydantic's error list: ``key: problem (got value)``."""
    lines = []
    for err in errors:
        loc = ".".join(str(part) for part in err.get("loc", ()) if not _is_union_tag(part))
        key = ".".join(part for part in (prefix, loc) if part) or "config"
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; see the group's YAML files)")
        elif kind == "missing":
            lines.append(f"{key}: required but not set (set it with {key}=VALUE)")
        else:
            got = err.get("input")
            shown = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            hint = _HINTS.get(kind)
            fix = f"; set {key} to {hint}" if hint else ""
            lines.append(f"{key}: {err.get('msg', 'invalid value')}{shown}{fix}")
    return lines


_HINTS = {
    "float_parsing": "a number (e.g. 0.5)",
    "float_type": "a number (e.g. 0.5)",
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping ({key: value})",
    "list_type": "a list ([a, b])",
}


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member's type into the location (e.g. "str", "function-after[...]")
    text = str(part)
    return text in {"str", "int", "float", "bool", "list[...]", "dict[...]"} or text.startswith(
        ("function-", "tagged-union", "union[", "nullable[", "constrained-")
    )
