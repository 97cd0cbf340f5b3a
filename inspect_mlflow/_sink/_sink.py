"""The process-wide sink the hooks hand records to."""

from __future__ import annotations

import atexit
import threading
from concurrent.futures import Future
from typing import Any

from inspect_mlflow._settings import Settings
from inspect_mlflow._sink._ops import Op
from inspect_mlflow._sink._transport import ProcessTransport, ThreadTransport, Transport, report

FLUSH_TIMEOUT = 600.0
CLOSE_TIMEOUT = 300.0


class Sink:
    def __init__(self, settings: Settings, prestarted: ProcessTransport | None = None) -> None:
        assert settings.tracking_uri is not None
        self.identity = _identity(settings)
        transport: Transport
        if prestarted is not None:
            prestarted.configure(settings.tracking_uri, settings.spool_dir)
            transport = prestarted
        elif settings.writer == "thread":
            transport = ThreadTransport(settings.tracking_uri, settings.spool_dir)
        else:
            transport = ProcessTransport(settings.tracking_uri, settings.spool_dir)
        self._transport = transport

    def submit(self, op: Op) -> None:
        self._transport.submit(op)

    def submit_all(self, ops: list[Op]) -> None:
        for op in ops:
            self._transport.submit(op)

    def call(self, method: str, **kwargs: Any) -> Future[Any]:
        """Ask the writer to run ``method`` once the records submitted so far are applied
        (see :mod:`._calls`); the future raises ``WriterError`` if it could not."""
        return self._transport.call(method, kwargs)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Block until every record submitted so far has been applied (or kept in the spool)."""
        done = self._transport.flush(timeout)
        if not done and self._transport.alive():
            report(f"inspect_mlflow: MLflow writes did not complete within {timeout:.0f} s")
        return done

    def close(self) -> None:
        self._transport.close(CLOSE_TIMEOUT)


_lock = threading.Lock()
_sink: Sink | None = None
_prestarted: ProcessTransport | None = None


def prestart_writer() -> None:
    """Start a writer process now, before the tracking URI is known, so that MLflow's import
    (seconds of CPU) overlaps with the caller's own start-up (the orchestrator composing its
    configuration). The next :func:`get_sink` for a process writer adopts it."""
    global _prestarted
    with _lock:
        if _prestarted is None and _sink is None:
            _prestarted = ProcessTransport(None, None)


def discard_prestarted_writer() -> None:
    """Let a prestarted writer that nobody adopted exit (without waiting for it)."""
    global _prestarted
    with _lock:
        if _prestarted is not None:
            _prestarted.close(timeout=0)
            _prestarted = None


def get_sink(settings: Settings) -> Sink:
    """The sink for these settings, started on first use (a new one if the target changed)."""
    global _sink, _prestarted
    with _lock:
        if _sink is None or _sink.identity != _identity(settings):
            if _sink is not None:
                _sink.close()
            prestarted = _prestarted if settings.writer == "process" else None
            if _prestarted is not None and prestarted is None:
                _prestarted.close(timeout=0)
            _prestarted = None
            _sink = Sink(settings, prestarted)
        return _sink


def close_sink() -> None:
    """Drain and stop the writer (also run at interpreter exit)."""
    global _sink
    with _lock:
        if _sink is not None:
            _sink.close()
            _sink = None
    discard_prestarted_writer()


def _identity(settings: Settings) -> tuple[str | None, str, str | None]:
    return (settings.tracking_uri, settings.writer, settings.spool_dir)


atexit.register(close_sink)
