"""Overhead and completeness of tracing: tracking + tracing against no hooks, and trace write cost.

    python benchmarks/bench_tracing.py            # full run (~15 min on 2 cores)
    python benchmarks/bench_tracing.py --quick    # smaller, for a smoke check

Reuses bench_hooks.py's runner: each eval runs in its own process, the whole process is timed,
rounds alternate the order of "no hooks" and "tracking + tracing", against an existing SQLite
store. After every traced eval the store is checked: one trace per sample, each with all its
spans and assessments, linked to the task run. Then the cost of persisting one trace is
measured on its own (the writer, in this process): SQLite through the bulk path and through
MLflow's trace API, and HTTP against a local ``mlflow server``; plus the hook's cost of
building a trace from a finished sample (in the eval process).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_hooks import clean_env, create_store, run_eval  # noqa: E402

TRACING_ENV = {"MLFLOW_INSPECT_TRACING": "true"}
SPANS_PER_TRACE = 8
"""sample, init, solvers, generate, one model call, scorers, match, includes."""
ASSESSMENTS_PER_TRACE = 3
"""match, includes, and the target as expectation."""


def store_counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        queries = {
            "traces": "select count(*) from trace_info",
            "spans": "select count(*) from spans",
            "assessments": "select count(*) from assessments",
            "linked": "select count(*) from trace_request_metadata where key = 'mlflow.sourceRun'",
        }
        return {name: int(con.execute(sql).fetchone()[0]) for name, sql in queries.items()}
    finally:
        con.close()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Side:
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    """CPU seconds of the eval process and its writer process together."""

    def run(self, *args: Any) -> None:
        cpu = children_cpu()
        self.walls.append(run_eval(*args)["wall_s"])
        self.cpus.append(children_cpu() - cpu)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def compare_traced(
    mode: str, samples: int, rounds: int, db: Path, work: Path, extra: list[str]
) -> tuple[Side, Side, list[dict[str, int]]]:
    """Alternating rounds; returns (no hooks, tracking + tracing, per-run store deltas)."""
    uri = f"sqlite:///{db}"
    off, on = Side(), Side()
    deltas: list[dict[str, int]] = []
    for index in range(rounds):
        order = ["off", "on"] if index % 2 == 0 else ["on", "off"]
        for side in order:
            if side == "off":
                off.run(mode, samples, None, work, extra)
                continue
            before = store_counts(db)
            on.run(mode, samples, uri, work, extra, TRACING_ENV)
            after = store_counts(db)
            deltas.append({k: after[k] - before[k] for k in after})
    return off, on, deltas


def report(label: str, off: Side, on: Side) -> None:
    print(
        f"{label}: wall no hooks {off.wall:.1f} s, tracking+tracing {on.wall:.1f} s -> ratio "
        f"{on.wall / off.wall:.3f}; CPU (eval + writer processes) {off.cpu:.1f} s -> "
        f"{on.cpu:.1f} s (+{on.cpu - off.cpu:.1f} s)"
    )


def check_complete(deltas: list[dict[str, int]], samples: int) -> str:
    complete = all(
        d["traces"] == samples
        and d["spans"] == samples * SPANS_PER_TRACE
        and d["assessments"] == samples * ASSESSMENTS_PER_TRACE
        and d["linked"] == samples
        for d in deltas
    )
    stored = ", ".join(f"{d['traces']}/{samples}" for d in deltas)
    return f"traces stored/samples per traced eval: {stored}; all spans, assessments and run links: {'yes' if complete else 'NO: ' + repr(deltas)}"


# ---- per-trace persistence cost ------------------------------------------------------------


def sample_traces(work: Path, samples: int) -> tuple[list[dict[str, Any]], float]:
    """Trace dicts of a real eval's samples, and the hook-side build cost per trace (ms)."""
    from inspect_ai.log import list_eval_logs, read_eval_log

    from inspect_mlflow._records._traces import TraceContext, sample_trace

    logs = Path(tempfile.mkdtemp(dir=work, prefix="sample-logs-"))
    subprocess.run(
        [sys.executable, str(Path(__file__).parent / "_eval_once.py"), "--mode", "cpu",
         "--samples", str(samples), "--log-dir", str(logs)],
        check=True, env=clean_env(), capture_output=True, cwd=work,
    )  # fmt: skip
    log = read_eval_log(list_eval_logs(str(logs))[0])
    assert log.samples is not None
    context = TraceContext(eval_id="cost", run_id="r", task="bench", model="mockllm/model",
                           experiment="trace-cost")  # fmt: skip
    start = time.perf_counter()
    traces = [sample_trace(sample, context) for sample in log.samples]
    build_ms = 1000 * (time.perf_counter() - start) / len(traces)
    return traces, build_ms


def persist_cost(uri: str, traces: list[dict[str, Any]], api: bool, batch: int = 50) -> float:
    """Milliseconds per trace for the writer to store ``traces`` in batches (after a warm-up)."""
    import copy
    import uuid

    from inspect_mlflow._sink import _traces
    from inspect_mlflow._sink._ops import LogTraces, StartRun
    from inspect_mlflow._sink._writer import Writer

    writer = Writer(uri)
    key = f"task:{uuid.uuid4().hex}"
    writer.apply([StartRun(key=key, experiment="trace-cost", name="cost")])
    if api:
        _traces._state_for(writer).sql = None
    fresh = copy.deepcopy(traces)
    for trace in fresh:  # new ids, so nothing is skipped as already written
        trace["trace_id"] = "tr-" + uuid.uuid4().hex
        for span in trace["spans"]:
            span["attributes"]["mlflow.traceRequestId"] = f'"{trace["trace_id"]}"'
        for index, assessment in enumerate(trace["assessments"]):
            assessment["assessment_id"] = f"a-{uuid.uuid4().hex}{index}"[:34]
    writer.apply([LogTraces(key=key, traces=fresh[:batch])])  # warm-up (imports, caches)
    start = time.perf_counter()
    for offset in range(batch, len(fresh), batch):
        writer.apply([LogTraces(key=key, traces=fresh[offset : offset + batch])])
    elapsed = time.perf_counter() - start
    problems = writer.take_problems()
    if problems:
        raise SystemExit(f"writer problems: {problems}")
    return 1000 * elapsed / (len(fresh) - batch)


def start_server(work: Path, backend: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = clean_env()
    env["MLFLOW_MODEL_CATALOG_URI"] = ""  # no price-catalog downloads (offline machines)
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{backend}",
         "--artifacts-destination", str(work / "server-artifacts"), "--host", "127.0.0.1",
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=work,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("mlflow server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (its job consumers outlive a SIGTERM)."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=2.0, help="seconds per simulated call")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    samples, rounds, cost_samples = (200, 1, 200) if args.quick else (1000, args.rounds, 500)
    os.environ["MLFLOW_MODEL_CATALOG_URI"] = ""  # for the in-process API-path measurement

    with tempfile.TemporaryDirectory(prefix="bench-tracing-") as tmp:
        work = Path(tmp)
        db = work / "mlflow.db"
        print(f"one-off: creating a fresh SQLite store took {create_store(db):.1f} s (excluded)")

        off, on, deltas = compare_traced("cpu", samples, rounds, db, work, [])
        report(f"CPU-bound (mock outputs), {samples} samples, {rounds} rounds", off, on)
        print("  " + check_complete(deltas, samples))

        extra = ["--latency", str(args.latency), "--concurrency", str(args.concurrency)]
        off, on, deltas = compare_traced("latency", samples, rounds, db, work, extra)
        report(
            f"latency-bound ({args.latency:g} s/call, {args.concurrency} concurrent), "
            f"{samples} samples, {rounds} rounds",
            off,
            on,
        )
        print("  " + check_complete(deltas, samples))

        traces, build_ms = sample_traces(work, cost_samples)
        spans = statistics.mean(len(t["spans"]) for t in traces)
        print(f"per trace ({spans:.0f} spans, 3 assessments): hook builds it in {build_ms:.2f} ms "
              "(eval process)")  # fmt: skip
        cost_db = work / "cost.db"
        create_store(cost_db)
        bulk = persist_cost(f"sqlite:///{cost_db}", traces, api=False)
        api = persist_cost(f"sqlite:///{cost_db}", traces, api=True)
        print(f"  SQLite, bulk path: {bulk:.1f} ms per trace; through MLflow's trace API: "
              f"{api:.1f} ms per trace ({api / bulk:.0f}x)")  # fmt: skip
        if not args.skip_http:
            server_db = work / "server.db"
            create_store(server_db)
            process, url = start_server(work, server_db)
            try:
                persist_cost(url, traces[:100], api=False)  # warm every server worker
                http = persist_cost(url, traces, api=False)
            finally:
                stop_server(process)
            print(f"  HTTP (mlflow server, SQLite backend): {http:.1f} ms per trace")


if __name__ == "__main__":
    main()
