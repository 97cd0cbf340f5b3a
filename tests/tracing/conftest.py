"""A real ``mlflow server`` on 127.0.0.1 for the HTTP and browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tracing.support import copy_store

SERVER_START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory, store_template: Path) -> Iterator[str]:
    """URL of an ``mlflow server`` (one worker) over a copy of the template SQLite store."""
    directory = tmp_path_factory.mktemp("server")
    backend = copy_store(store_template, directory)
    port = free_port()
    env = dict(os.environ)
    env["MLFLOW_MODEL_CATALOG_URI"] = ""  # no price-catalog download attempts (no network)
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            backend,
            "--artifacts-destination",
            str(directory / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=directory,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mlflow server exited: {(directory / 'server.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start in time")
            time.sleep(0.25)
        yield url
    finally:
        # the server runs uvicorn and job consumers in child processes (which outlive a
        # SIGTERM to the server): stop the whole process group we started
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()
