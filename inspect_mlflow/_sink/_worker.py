"""Writer process main: ``python -m inspect_mlflow._sink._worker CONFIG_JSON``.

Reads length-prefixed pickled batches of records from stdin and applies them with a
:class:`Writer`; answers each ``Flush`` with a JSON line on the acknowledgement channel
(the original stdout; anything else printed goes to stderr). Exits when stdin closes.
"""

from __future__ import annotations

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


def main() -> int:
    # Ctrl-C in a terminal reaches the whole process group: the eval decides how runs end
    # (KILLED) and closes our stdin; dying here first would lose those last records.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The eval comes first: when both want a core, the writer (which only has to be done by
    # the next flush) yields; it catches up while the eval waits on models or has finished.
    with contextlib.suppress(OSError):
        os.nice(10)
    config = json.loads(sys.argv[1])
    # keep stdout for acknowledgements only: anything MLflow prints goes to stderr
    ack = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    from inspect_mlflow._sink._ops import Flush
    from inspect_mlflow._sink._spool import Spool
    from inspect_mlflow._sink._writer import Writer

    def send(message: dict[str, Any]) -> None:
        ack.write(json.dumps(message) + "\n")

    try:
        writer = Writer(
            config["tracking_uri"], spool=Spool(config.get("spool_dir"), config["tracking_uri"])
        )
    except Exception as ex:
        send({"problem": f"inspect_mlflow writer could not start: {type(ex).__name__}: {ex}"})
        writer = None
    send({"ready": True})

    stdin = sys.stdin.buffer
    while True:
        batch = read_frame(stdin)
        if batch is None:
            break
        if writer is None:
            for op in batch:
                if isinstance(op, Flush):
                    send({"ack": op.token, "problems": []})
            continue
        start = 0
        for index, op in enumerate(batch):
            if isinstance(op, Flush):
                writer.apply(batch[start:index])
                start = index + 1
                send({"ack": op.token, "problems": writer.take_problems()})
        writer.apply(batch[start:])
        for problem in writer.take_problems():
            send({"problem": problem})
    if writer is not None:
        for problem in writer.take_problems():
            send({"problem": problem})
        writer.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything is written and acknowledged; skip MLflow's and SQLAlchemy's exit handlers,
    # which otherwise keep the eval process waiting ~2 s at exit.
    os._exit(code)
