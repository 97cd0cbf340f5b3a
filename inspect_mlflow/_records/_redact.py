"""Keep credentials out of params, tags, tables and traces."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "<redacted>"

# Names that hold credentials: api_key, *_key, *_token, *_secret, password, credentials, ...
_SECRET_NAME = re.compile(
    r"(^|[_\-.])(api[_\-]?key|key|token|secret|password|passwd|pwd|credentials?|auth|"
    r"authorization|private[_\-]?key|access[_\-]?key|session[_\-]?token|bearer)$",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """True for a field name that looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name.strip()))


def redact(value: Any) -> Any:
    """A copy of ``value`` with every credential-like dict entry replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if isinstance(key, str) and is_secret_name(key) else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    return value
