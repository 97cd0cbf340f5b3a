"""Overhead of the tracking hooks: the same eval without hooks and with tracking, alternating.

    python benchmarks/bench_hooks.py            # full run (~15 min on 2 cores)
    python benchmarks/bench_hooks.py --quick    # smaller, for a smoke check

Each eval runs in its own process and the whole process is timed (start-up, import, eval,
writer drain, exit), against a SQLite store that already exists (creating one is a one-off
migration, timed separately). Prints median wall-time ratios for a CPU-bound eval (mock
outputs, no latency: the stress case) and a latency-bound one (simulated model with
per-call latency and concurrency: what API evals look like), the hooks' extra peak RSS at
two sizes, and the start-up cost of the package when installed but disabled.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "INSPECT_MLFLOW_"))}


def run_eval(mode: str, samples: int, uri: str | None, work: Path, extra: list[str],
             env_extra: dict[str, str] | None = None) -> dict[str, float]:  # fmt: skip
    env = clean_env()
    if uri:
        env["MLFLOW_TRACKING_URI"] = uri
    env.update(env_extra or {})
    log_dir = tempfile.mkdtemp(dir=work, prefix="logs-")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(HERE / "_eval_once.py"), "--mode", mode, "--samples", str(samples),
         "--log-dir", log_dir, *extra],
        env=env, capture_output=True, text=True, cwd=work,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"benchmark eval failed:\n{result.stderr[-3000:]}")
    data: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    data["wall_s"] = wall
    return data


def create_store(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c",
         f"from mlflow import MlflowClient; MlflowClient('sqlite:///{path}').search_experiments()"],
        check=True, env=clean_env(), capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def compare(mode: str, samples: int, rounds: int, uri: str, work: Path, extra: list[str],
            env_extra: dict[str, str] | None = None) -> tuple[float, list[dict[str, float]], list[dict[str, float]]]:  # fmt: skip
    off: list[dict[str, float]] = []
    on: list[dict[str, float]] = []
    for index in range(rounds):
        # alternate the order so drift on a shared machine hits both sides alike
        order = [(off, None), (on, uri)] if index % 2 == 0 else [(on, uri), (off, None)]
        for bucket, target in order:
            bucket.append(run_eval(mode, samples, target, work, extra, env_extra))
    ratio = statistics.median(r["wall_s"] for r in on) / statistics.median(r["wall_s"] for r in off)
    return ratio, off, on


def startup_cost(repeats: int) -> tuple[float, bool]:
    """Median extra import time of the entry point (hooks off) over what an eval imports anyway."""
    code = (
        "import time, sys\n"
        "import inspect_ai, inspect_ai.hooks, inspect_ai.model, inspect_ai.dataset, "
        "inspect_ai.scorer, inspect_ai.solver, inspect_ai.tool, yaml\n"
        "t = time.perf_counter()\n"
        "import inspect_mlflow._registry\n"
        "from inspect_mlflow import current_settings\n"
        "assert not current_settings().active\n"
        "print(time.perf_counter() - t, 'mlflow' in sys.modules)\n"
    )
    timings, mlflow_loaded = [], False
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], env=clean_env(), capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
        timings.append(float(out[0]))
        mlflow_loaded = mlflow_loaded or out[1] == "True"
    return statistics.median(timings), mlflow_loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per simulated call")
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--tracing", action="store_true", help="measure tracking + tracing")
    args = parser.parse_args()
    samples, big, rounds = (200, 1000, 1) if args.quick else (1000, 5000, args.rounds)
    env_extra = {"MLFLOW_INSPECT_TRACING": "true"} if args.tracing else None
    label = "tracking+tracing" if args.tracing else "tracking"

    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as tmp:
        work = Path(tmp)
        store = work / "mlflow.db"
        created = create_store(store)
        uri = f"sqlite:///{store}"
        print(f"one-off: creating a fresh SQLite store took {created:.1f} s (excluded below)")

        cpu_ratio, cpu_off, cpu_on = compare("cpu", samples, rounds, uri, work, [], env_extra)
        print(f"CPU-bound, {samples} samples, {rounds} rounds: wall no hooks "
              f"{statistics.median(r['wall_s'] for r in cpu_off):.1f} s, {label} "
              f"{statistics.median(r['wall_s'] for r in cpu_on):.1f} s -> ratio {cpu_ratio:.3f}")  # fmt: skip

        latency_args = ["--latency", str(args.latency), "--concurrency", str(args.concurrency)]
        lat_ratio, lat_off, lat_on = compare(
            "latency", samples, rounds, uri, work, latency_args, env_extra
        )
        print(f"latency-bound ({args.latency:g} s/call, {args.concurrency} concurrent), {samples} samples: "
              f"wall no hooks {statistics.median(r['wall_s'] for r in lat_off):.1f} s, {label} "
              f"{statistics.median(r['wall_s'] for r in lat_on):.1f} s -> ratio {lat_ratio:.3f}")  # fmt: skip

        extra_rss = {}
        for size in (samples, big):
            off = run_eval("cpu", size, None, work, [])
            on = run_eval("cpu", size, uri, work, [], env_extra)
            extra_rss[size] = (on["rss_mb"] - off["rss_mb"], on["writer_rss_mb"])
            print(f"peak RSS at {size} samples: eval process +{extra_rss[size][0]:.0f} MB with hooks "
                  f"({off['rss_mb']:.0f} -> {on['rss_mb']:.0f} MB); writer process {on['writer_rss_mb']:.0f} MB")  # fmt: skip
        small_total = sum(extra_rss[samples])
        big_total = sum(extra_rss[big])
        print(f"hooks' extra memory (eval process + writer): {small_total:.0f} MB at {samples}, "
              f"{big_total:.0f} MB at {big} -> growth {100 * (big_total / small_total - 1):+.1f} %")  # fmt: skip

    startup, mlflow_loaded = startup_cost(7)
    print(
        f"installed but disabled: +{startup * 1000:.0f} ms at Inspect start-up "
        f"(mlflow imported: {'yes' if mlflow_loaded else 'no'})"
    )


if __name__ == "__main__":
    main()
