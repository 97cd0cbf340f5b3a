"""Writer process main: ``python -m inspect_mlflow._sink._worker CONFIG_JSON``.

Reads length-prefixed pickled batches of records from stdin and hands them to a
:class:`~inspect_mlflow._sink._serve.Server`; its messages (flush acknowledgements, problems,
answers to calls) go back as JSON lines on the original stdout (anything else printed goes to
stderr). ``CONFIG_JSON`` without a ``tracking_uri`` starts the writer ahead of time: it
imports MLflow at once and takes its tracking URI from the first record (``Configure``).
Exits when stdin closes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pickle
import signal
import struct
import sys
from typing import IO, Any

HEADER = struct.Struct("!I")


def read_frame(stream: IO[bytes]) -> Any | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    size = HEADER.unpack(header)[0]
    return pickle.loads(stream.read(size))


def encode_value(value: Any) -> str:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def decode_value(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the eval decides how runs end
    # (KILLED) and closes our stdin; dying here first would lose those last records.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The eval comes first: when both want a core, the writer (which only has to be done by
    # the next flush) yields; it catches up while the eval waits on models or has finished.
    with contextlib.suppress(OSError):
        os.nice(10)
    config = json.loads(sys.argv[1])
    # keep stdout for our messages only: anything MLflow prints goes to stderr
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    def send(message: dict[str, Any]) -> None:
        if "answer" in message and message.get("ok"):
            message = {**message, "value": encode_value(message["value"])}
        # the eval process may be gone (a writer started ahead of time and never used):
        # nobody is left to tell
        with contextlib.suppress(OSError, ValueError):
            channel.write(json.dumps(message) + "\n")

    from mlflow import MlflowClient  # noqa: F401  (the slow import, before any record arrives)

    from inspect_mlflow._sink._serve import Server

    server = Server(send, config.get("tracking_uri"), config.get("spool_dir"))
    stdin = sys.stdin.buffer
    while True:
        batch = read_frame(stdin)
        if batch is None:
            break
        server.handle(batch)
    server.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and acknowledged; skip MLflow's and SQLAlchemy's exit handlers,
    # which otherwise keep the eval process waiting ~2 s at exit.
    os._exit(code)
