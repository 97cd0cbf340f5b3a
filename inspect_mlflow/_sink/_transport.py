"""How records reach the :class:`Writer`: a writer subprocess (default) or a thread.

Both take records with :meth:`submit`, which only appends to an in-memory queue, so a hook
returns at once. The subprocess keeps MLflow's import (~2.5 s of CPU) and all store work
off the eval process's interpreter: on a CPU-bound eval a thread would compete for the GIL.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future
from typing import IO, Any, Protocol

from inspect_mlflow._sink._ops import Call, Configure, Flush, Op
from inspect_mlflow._sink._worker import HEADER, decode_value

logger = logging.getLogger("inspect_mlflow")

_BATCH = 512


class Transport(Protocol):
    def submit(self, op: Op) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def call(self, method: str, kwargs: dict[str, Any]) -> Future[Any]: ...

    def alive(self) -> bool: ...

    def close(self, timeout: float | None = None) -> None: ...


def report(problem: str) -> None:
    """Make a writer problem visible: Inspect shows ``logging`` warnings, except with
    ``--display none``, where a possible loss of data still deserves a line on stderr."""
    logger.warning(problem)
    try:
        from inspect_ai.util import display_type

        silent = display_type() == "none"
    except Exception:
        silent = False
    if silent:
        print(problem, file=sys.stderr, flush=True)


class WriterError(RuntimeError):
    """A call the writer could not serve (or the writer is gone)."""


class _Outbox:
    """The queue between the hooks and the writer, with flush requests and acknowledgements,
    and calls with their answers."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Op | None] = queue.SimpleQueue()
        self._tokens = itertools.count(1)
        self._acks: dict[int, threading.Event] = {}
        self._calls: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self.gone: str | None = None
        """Why the writer cannot answer any more (``None`` while it can)."""

    def put(self, op: Op | None) -> None:
        self._queue.put(op)

    def flush(self, timeout: float | None) -> bool:
        """Queue a flush and wait until the writer acknowledges it (or ``timeout`` passes)."""
        token = next(self._tokens)
        event = threading.Event()
        with self._lock:
            self._acks[token] = event
        self._queue.put(Flush(token))
        done = event.wait(timeout)
        with self._lock:
            self._acks.pop(token, None)
        return done

    def call(self, method: str, kwargs: dict[str, Any]) -> Future[Any]:
        """Queue a call; its future gets the writer's answer."""
        future: Future[Any] = Future()
        with self._lock:
            if self.gone is not None:
                future.set_exception(WriterError(self.gone))
                return future
            token = next(self._tokens)
            self._calls[token] = future
        self._queue.put(Call(token, method, kwargs))
        return future

    def acknowledge(self, token: int) -> None:
        with self._lock:
            event = self._acks.get(token)
        if event is not None:
            event.set()

    def answer(self, token: int, ok: bool, value: Any) -> None:
        with self._lock:
            future = self._calls.pop(token, None)
        if future is None:
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(WriterError(str(value)))

    def dispatch(self, message: dict[str, Any]) -> None:
        """A message from the writer (see :mod:`._serve`); answers' values already decoded."""
        for problem in message.get("problems", []):
            report(problem)
        if "problem" in message:
            report(message["problem"])
        if "ack" in message:
            self.acknowledge(message["ack"])
        if "answer" in message:
            self.answer(message["answer"], bool(message.get("ok")), message.get("value"))

    def release_all(self, reason: str) -> None:
        """Wake every waiting flush and fail every pending call (the writer is gone)."""
        with self._lock:
            self.gone = reason
            for event in self._acks.values():
                event.set()
            calls, self._calls = self._calls, {}
        for future in calls.values():
            future.set_exception(WriterError(reason))

    def next_batch(self, limit: int) -> tuple[list[Op], bool]:
        """Wait for records, then take what is queued (up to ``limit``); True once closing."""
        batch: list[Op] = []
        item = self._queue.get()
        while True:
            if item is None:
                return batch, True
            batch.append(item)
            if len(batch) >= limit:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False


class ProcessTransport:
    """The writer in a subprocess; without a ``tracking_uri`` it is started ahead of time
    (importing MLflow meanwhile) and :meth:`configure` tells it where to write."""

    def __init__(self, tracking_uri: str | None, spool_dir: str | None) -> None:
        from inspect_mlflow._sink._writer import writer_environment

        config = json.dumps({"tracking_uri": tracking_uri, "spool_dir": spool_dir})
        self._process = subprocess.Popen(
            [sys.executable, "-m", "inspect_mlflow._sink._worker", config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=writer_environment(),
        )
        self._outbox = _Outbox()
        self._dead = False
        self._sender = threading.Thread(
            target=self._send_loop, name="inspect-mlflow-send", daemon=True
        )
        self._reader = threading.Thread(
            target=self._read_loop, name="inspect-mlflow-read", daemon=True
        )
        self._sender.start()
        self._reader.start()

    def configure(self, tracking_uri: str, spool_dir: str | None) -> None:
        """Where a writer started without a tracking URI writes (before any other record)."""
        self._outbox.put(Configure(tracking_uri, spool_dir))

    def submit(self, op: Op) -> None:
        self._outbox.put(op)

    def call(self, method: str, kwargs: dict[str, Any]) -> Future[Any]:
        return self._outbox.call(method, kwargs)

    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    def flush(self, timeout: float | None = None) -> bool:
        if self._dead:
            return False
        return self._outbox.flush(timeout) and not self._dead

    def close(self, timeout: float | None = None) -> None:
        """Send what is queued and close the writer's input; wait up to ``timeout`` for it
        to finish (``0``: don't wait, it exits on its own once its input is closed)."""
        self._outbox.put(None)
        if timeout == 0:
            return
        self._sender.join(timeout)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            report("inspect_mlflow: the MLflow writer did not finish in time and was stopped")
            self._process.kill()
        self._reader.join(5)

    def _send_loop(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        closing = False
        while not closing:
            batch, closing = self._outbox.next_batch(_BATCH)
            if batch and not self._write(stdin, batch):
                self._died()
                return
        with contextlib.suppress(OSError):
            stdin.close()

    def _write(self, stdin: IO[bytes], batch: list[Op]) -> bool:
        data = pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            stdin.write(HEADER.pack(len(data)))
            stdin.write(data)
            stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def _read_loop(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        for raw in stdout:
            try:
                message = json.loads(raw)
                if "answer" in message and message.get("ok"):
                    message["value"] = decode_value(message["value"])
            except Exception:
                continue
            self._outbox.dispatch(message)
        self._process.wait()
        if self._process.returncode != 0:
            self._died()
        else:
            self._outbox.release_all("the MLflow writer has stopped")

    def _died(self) -> None:
        if self._dead:
            return
        self._dead = True
        reason = f"the MLflow writer process exited (code {self._process.poll()})"
        report(
            f"inspect_mlflow: {reason}; "
            "records since the last flush may be missing from MLflow. Nothing is lost from the "
            ".eval logs: re-log them with `python -m inspect_mlflow log LOG_FILE --replace`."
        )
        self._outbox.release_all(reason)


class ThreadTransport:
    """The writer on a background thread of this process (simpler, shares the GIL)."""

    def __init__(self, tracking_uri: str, spool_dir: str | None) -> None:
        self._outbox = _Outbox()
        self._uri = tracking_uri
        self._spool_dir = spool_dir
        self._thread = threading.Thread(
            target=self._loop, name="inspect-mlflow-writer", daemon=True
        )
        self._thread.start()

    def submit(self, op: Op) -> None:
        self._outbox.put(op)

    def call(self, method: str, kwargs: dict[str, Any]) -> Future[Any]:
        return self._outbox.call(method, kwargs)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def flush(self, timeout: float | None = None) -> bool:
        return self._outbox.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        self._outbox.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        from inspect_mlflow._sink._serve import Server

        server = Server(self._outbox.dispatch, self._uri, self._spool_dir)
        closing = False
        try:
            while not closing:
                batch, closing = self._outbox.next_batch(_BATCH)
                server.handle(batch)
            server.close()
        finally:
            self._outbox.release_all("the MLflow writer thread has stopped")
