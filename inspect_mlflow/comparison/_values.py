"""Turn Inspect score values into numbers, refusing (not guessing) what is not numeric.

Inspect's ``value_to_float()`` maps ``C``/``I``/``P``/``N`` to 1/0/0.5/0, yes/no/true/false to
1/0, numeric strings and numbers to floats, and anything else to 0 with a warning. Mapping an
unknown label to 0 would count it as a wrong answer (or as "unchanged" when both sides carry
it), so here such values are reported as non-numeric instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from inspect_ai.scorer import value_to_float

_to_float = value_to_float()
_LABELS = {"C", "I", "P", "N"}
_WORDS = {"yes", "no", "true", "false"}


class NonNumeric:
    """Marker for a score value that is present but not a number."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NON_NUMERIC"


NON_NUMERIC = NonNumeric()


def to_number(value: Any) -> float | NonNumeric:
    """A finite float for a numeric-like value, else :data:`NON_NUMERIC`."""
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        if value in _LABELS or value.lower() in _WORDS:
            number = _to_float(value)
        else:
            try:
                number = float(value)
            except ValueError:
                return NON_NUMERIC
    else:
        return NON_NUMERIC
    return number if math.isfinite(number) else NON_NUMERIC


def metric_values(scores: Mapping[str, Any]) -> Iterator[tuple[str, str, float | NonNumeric]]:
    """``(metric name, scorer, number)`` for each score; dict values give one per key.

    A dict-valued score ``{"a": 1, "b": 0}`` from scorer ``s`` gives metrics ``s/a`` and ``s/b``.
    """
    for scorer, value in scores.items():
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield f"{scorer}/{key}", scorer, to_number(item)
        else:
            yield scorer, scorer, to_number(value)
