"""A helper process that does the orchestrator's MLflow work, so the main process never imports MLflow.

``import mlflow`` and opening a store cost seconds of CPU; in a helper process they overlap
with Inspect's start-up instead of adding to it, and the main process (which runs the evals)
keeps its interpreter to itself. Requests are pickled frames on stdin, answers pickled frames
on the original stdout (anything MLflow prints goes to stderr). The helper ignores Ctrl-C:
the main process tells it how the sweep ended (``KILLED`` on an interrupt), and if the main
process dies without saying so the helper marks the sweep run ``KILLED`` itself.

Run as ``python -m inspect_mlflow._orchestrator._tracker TRACKING_URI``.
"""

from __future__ import annotations

import itertools
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future
from typing import IO, Any

_HEADER = struct.Struct("!I")
_LATER = "-"
"""Command-line placeholder: the tracking URI comes with the first request."""
_CONNECT = "connect"


class TrackerError(RuntimeError):
    """The helper process failed a request or died."""


def _write_frame(stream: IO[bytes], value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_frame(stream: IO[bytes]) -> Any | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


class Tracker:
    """Client of the helper process: :meth:`submit` returns a future, :meth:`call` waits.

    Without a tracking URI the helper only imports MLflow and waits for :meth:`connect`, so it
    can be started before the configuration is composed.
    """

    def __init__(self, tracking_uri: str | None = None) -> None:
        # kept for the life of the helper: its stderr, shown if it dies
        self._stderr = tempfile.TemporaryFile(prefix="inspect_mlflow_tracker_")  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "inspect_mlflow._orchestrator._tracker", tracking_uri or _LATER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={
                **os.environ,
                "MLFLOW_HTTP_REQUEST_MAX_RETRIES": os.environ.get(
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"
                ),
            },
        )
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._reader = threading.Thread(
            target=self._read_loop, name="inspect-mlflow-tracker", daemon=True
        )
        self._reader.start()

    def connect(self, tracking_uri: str) -> None:
        """Tell a helper started without a URI which store to use (answered asynchronously)."""
        self.submit(_CONNECT, tracking_uri=tracking_uri)

    def submit(self, method: str, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed or self._process.poll() is not None:
                future.set_exception(TrackerError(self._death_message()))
                return future
            request_id = next(self._ids)
            self._pending[request_id] = future
            try:
                assert self._process.stdin is not None
                _write_frame(self._process.stdin, (request_id, method, kwargs))
            except (BrokenPipeError, OSError, ValueError):
                self._pending.pop(request_id, None)
                future.set_exception(TrackerError(self._death_message()))
        return future

    def call(self, method: str, timeout: float | None = 600, **kwargs: Any) -> Any:
        return self.submit(method, **kwargs).result(timeout)

    def close(self, timeout: float = 60) -> None:
        """Close the request channel; wait up to ``timeout`` seconds for the helper to exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                assert self._process.stdin is not None
                self._process.stdin.close()
            except OSError:
                pass
        if timeout <= 0:
            return  # the helper exits by itself once stdin is closed
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(5)

    def _read_loop(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        while True:
            try:
                message = _read_frame(stdout)
            except Exception:
                message = None
            if message is None:
                break
            request_id, ok, value = message
            with self._lock:
                future = self._pending.pop(request_id, None)
            if future is None:
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(TrackerError(value))
        self._process.wait()
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(TrackerError(self._death_message()))

    def _death_message(self) -> str:
        code = self._process.poll()
        tail = ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
            tail = "\n".join(lines[-8:])
        except (OSError, ValueError):
            pass
        return f"the MLflow helper process exited (code {code})" + (f":\n{tail}" if tail else "")


def main() -> int:
    """Serve requests until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow import MlflowClient  # noqa: F401  (the slow import, done before any request)

    from inspect_mlflow._orchestrator._writeback import Backend

    backend = Backend(sys.argv[1]) if sys.argv[1] != _LATER else None
    stdin = sys.stdin.buffer
    while True:
        request = _read_frame(stdin)
        if request is None:
            break
        request_id, method, kwargs = request
        try:
            if method == _CONNECT:
                backend = Backend(kwargs["tracking_uri"])
                result = None
            elif backend is None:
                raise RuntimeError("no tracking URI: connect first")
            else:
                result = getattr(backend, method)(**kwargs)
            reply = (request_id, True, result)
        except Exception as ex:
            reply = (request_id, False, f"{type(ex).__name__}: {ex}")
        try:
            _write_frame(answers, reply)
        except (BrokenPipeError, OSError):
            break
    if backend is not None:
        backend.abandon()
    return 0


if __name__ == "__main__":
    sys.exit(main())
