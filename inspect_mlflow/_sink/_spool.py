"""Records MLflow could not take, kept as JSON lines for ``python -m inspect_mlflow replay``."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from inspect_mlflow._sink._ops import Op, op_from_json, op_to_json


def default_spool_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inspect_mlflow" / "spool"


class Spool:
    """An append-only file of records; created on first use."""

    def __init__(self, directory: str | Path | None, tracking_uri: str) -> None:
        folder = Path(directory) if directory else default_spool_dir()
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.path = folder / f"spool-{stamp}-{os.getpid()}.jsonl"
        self.tracking_uri = tracking_uri
        self.count = 0
        self._lock = threading.Lock()

    def append(self, op: Op) -> None:
        with self._lock:
            if self.count == 0:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"tracking_uri": self.tracking_uri}) + "\n")
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(op_to_json(op), default=str) + "\n")
            self.count += 1


def read_spool(path: str | Path) -> tuple[str, Iterator[Op]]:
    """The tracking URI a spool file was meant for, and its records in order."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines:
        raise ValueError(f"{path} is empty")
    header = json.loads(lines[0])
    return header["tracking_uri"], (op_from_json(json.loads(line)) for line in lines[1:] if line)
