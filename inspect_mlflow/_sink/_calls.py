"""The requests a writer serves (``Call`` records): the orchestrator's sweep-level MLflow work.

They run in the writer, in order with the hooks' records, with the writer's own client: so
MLflow is imported by one process, and the sweep run is created before the first run the
hooks nest under it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._writeback import Backend
    from inspect_mlflow._sink._writer import Writer


class Calls:
    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._backend: Backend | None = None

    def run(self, method: str, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """``(True, result)`` or ``(False, error text)``."""
        from inspect_mlflow._orchestrator._writeback import CALLS, Backend

        if method not in CALLS:
            return False, f"unknown request {method!r}"
        if self._backend is None:
            self._backend = Backend(self._writer)
        try:
            return True, getattr(self._backend, method)(**kwargs)
        except Exception as ex:
            return False, f"{type(ex).__name__}: {ex}"

    def close(self) -> None:
        """The requester went away: a sweep run still open was interrupted."""
        if self._backend is not None:
            with contextlib.suppress(Exception):
                self._backend.abandon()
