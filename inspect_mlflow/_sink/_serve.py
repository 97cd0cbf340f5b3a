"""What the writer (a subprocess or a thread) does with each batch of records.

Records are applied in order by a :class:`Writer`. Three kinds are not MLflow records but
points in that order: ``Flush`` is acknowledged once everything before it is applied,
``Call`` runs one of the orchestrator's requests (see :mod:`._calls`) and is answered with its
result, and ``Configure`` gives a writer started ahead of time its tracking URI.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._sink._ops import Call, Configure, Flush, Op

if TYPE_CHECKING:
    from inspect_mlflow._sink._calls import Calls
    from inspect_mlflow._sink._writer import Writer

Send = Callable[[dict[str, Any]], None]
"""Sends one message back: ``{"ack": token, "problems": [...]}``, ``{"problem": text}``,
``{"answer": token, "ok": bool, "value": result or error text}``."""


class Server:
    def __init__(self, send: Send, tracking_uri: str | None, spool_dir: str | None) -> None:
        self._send = send
        self.writer: Writer | None = None
        self._configured = False
        self._calls: Calls | None = None
        if tracking_uri is not None:
            self._configure(Configure(tracking_uri, spool_dir))

    def handle(self, batch: Sequence[Op]) -> None:
        start = 0
        for index, op in enumerate(batch):
            if isinstance(op, Flush | Call | Configure):
                self._apply(batch[start:index])
                start = index + 1
                if isinstance(op, Flush):
                    self._send({"ack": op.token, "problems": self._problems()})
                elif isinstance(op, Call):
                    self._report()
                    self._answer(op)
                else:
                    self._configure(op)
        self._apply(batch[start:])
        self._report()

    def close(self) -> None:
        if self._calls is not None:
            self._calls.close()
        self._report()
        if self.writer is not None:
            self.writer.close()

    def _configure(self, op: Configure) -> None:
        from inspect_mlflow._sink._spool import Spool
        from inspect_mlflow._sink._writer import Writer

        if self._configured:
            return
        self._configured = True
        try:
            self.writer = Writer(op.tracking_uri, spool=Spool(op.spool_dir, op.tracking_uri))
        except Exception as ex:
            self._send(
                {"problem": f"inspect_mlflow writer could not start: {type(ex).__name__}: {ex}"}
            )
            return
        _open_store(self.writer)

    def _apply(self, ops: Sequence[Op]) -> None:
        if ops and self.writer is not None:
            self.writer.apply(ops)

    def _answer(self, call: Call) -> None:
        if self.writer is None:
            self._send(
                {"answer": call.token, "ok": False, "value": "the MLflow writer is not running"}
            )
            return
        if self._calls is None:
            from inspect_mlflow._sink._calls import Calls

            self._calls = Calls(self.writer)
        ok, value = self._calls.run(call.method, call.kwargs)
        self._send({"answer": call.token, "ok": ok, "value": value})

    def _problems(self) -> list[str]:
        return self.writer.take_problems() if self.writer is not None else []

    def _report(self) -> None:
        for problem in self._problems():
            self._send({"problem": problem})


def _open_store(writer: Writer) -> None:
    """Open an existing SQLite store now (MLflow checks its schema on first use), while the
    eval is still starting; never create a store nobody has written to yet."""
    prefix = "sqlite:///"
    uri = writer.tracking_uri
    if not uri.startswith(prefix) or not Path(uri[len(prefix) :]).is_file():
        return
    with contextlib.suppress(Exception):  # reported by the first record that needs the store
        writer.client.search_experiments(max_results=1)
