"""The process-wide sink the hooks hand records to."""

from __future__ import annotations

import atexit
import threading

from inspect_mlflow._settings import Settings
from inspect_mlflow._sink._ops import Op
from inspect_mlflow._sink._transport import ProcessTransport, ThreadTransport, Transport, report

FLUSH_TIMEOUT = 600.0
CLOSE_TIMEOUT = 300.0


class Sink:
    def __init__(self, settings: Settings) -> None:
        assert settings.tracking_uri is not None
        self.identity = _identity(settings)
        transport: Transport
        if settings.writer == "thread":
            transport = ThreadTransport(settings.tracking_uri, settings.spool_dir)
        else:
            transport = ProcessTransport(settings.tracking_uri, settings.spool_dir)
        self._transport = transport

    def submit(self, op: Op) -> None:
        self._transport.submit(op)

    def submit_all(self, ops: list[Op]) -> None:
        for op in ops:
            self._transport.submit(op)

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


def get_sink(settings: Settings) -> Sink:
    """The sink for these settings, started on first use (a new one if the target changed)."""
    global _sink
    with _lock:
        if _sink is None or _sink.identity != _identity(settings):
            if _sink is not None:
                _sink.close()
            _sink = Sink(settings)
        return _sink


def close_sink() -> None:
    """Drain and stop the writer (also run at interpreter exit)."""
    global _sink
    with _lock:
        if _sink is not None:
            _sink.close()
            _sink = None


def _identity(settings: Settings) -> tuple[str | None, str, str | None]:
    return (settings.tracking_uri, settings.writer, settings.spool_dir)


atexit.register(close_sink)
