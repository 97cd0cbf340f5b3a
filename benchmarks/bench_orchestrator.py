"""Benchmark the orchestrator on the offline simulated model (100 ms per call, 50 samples).

Measures, each in a fresh process and a fresh log dir (best of ``--repeat``), into one
pre-created SQLite store:

- ``single``: ``python -m inspect_mlflow`` with one model (one task run),
- ``sweep``:  ``python -m inspect_mlflow +sweep=bench``: the same task with 4 models in one
  ``eval_set``, 3 comparisons written back to MLflow and a check,
- ``evals``:  the same 4 evals through a bare ``inspect_ai.eval_set`` with the MLflow hooks on
  (what the sweep costs without the orchestrator),
- ``help``:   ``python -m inspect_mlflow --help``,
- ``dry_run``: ``python -m inspect_mlflow +sweep=bench dry_run=true``,

and prints ``sweep / single`` (target <= 1.5), the orchestrator's overhead beyond the evals
(``sweep - evals`` wall time, and the sum of its own phases: Hydra import, compose and
validation, plan, opening the sweep run, comparisons and write-back, ending the sweep run;
target <= 1 s), and the ``--help`` time (target <= 2 s).
No assertions: the figures go in the README.

    python benchmarks/bench_orchestrator.py [--repeat 5] [--samples 50] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

MODELS = ("bench-a", "bench-b", "bench-c", "bench-d")

_EVALS = """
import sys, time
from inspect_ai import eval_set, task_with
from inspect_ai._eval.loader import load_tasks
from inspect_ai.model import get_model
from inspect_mlflow import Settings, configure

uri, log_dir, samples, latency = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
tasks = []
for index, name in enumerate({models!r}):
    task = load_tasks(["inspect_mlflow/arithmetic"], {{"samples": samples}})[0]
    model = get_model(f"simulated/{{name}}", memoize=False, accuracy=0.9 - 0.1 * index, latency=latency)
    tasks.append(task_with(task, model=model))
configure(Settings(tracking_uri=uri))
eval_set(tasks, log_dir=log_dir, display="none", max_tasks=len(tasks))
"""


def write_config(folder: Path, samples: int, latency: float) -> Path:
    conf = folder / "conf"
    (conf / "sweep").mkdir(parents=True)
    (conf / "model").mkdir()
    models = "\n".join(
        f"    - {{name: simulated/{name}, args: {{accuracy: {0.9 - 0.1 * i:.1f}, latency: {latency}}}}}"
        for i, name in enumerate(MODELS)
    )
    (conf / "sweep" / "bench.yaml").write_text(
        textwrap.dedent(
            """\
            # @package _global_
            defaults:
              - override /check: default
            sweep:
              name: bench
              models:
            {models}
            task: {{args: {{samples: {samples}}}}}
            compare: {{baseline: {{model: simulated/{first}}}}}
            """
        ).format(models=models, samples=samples, first=MODELS[0])
    )
    (conf / "model" / "bench.yaml").write_text(
        f"name: simulated/{MODELS[0]}\nargs: {{accuracy: 0.9, latency: {latency}}}\n"
    )
    return conf


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, dict[str, float], str]:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(
            f"failed ({result.returncode}): {' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    phases: dict[str, float] = {}
    for line in result.stdout.splitlines():
        if line.startswith("inspect_mlflow timings: "):
            phases = json.loads(line.split(": ", 1)[1])
    return wall, phases, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.1)
    opts = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="inspect_mlflow_bench_orch_"))
    conf = write_config(folder, opts.samples, opts.latency)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"INSPECT_DISPLAY": "none", "INSPECT_MLFLOW_TIMINGS": "1"})
    print(f"workspace {folder}; creating the SQLite store once...", flush=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from mlflow import MlflowClient; MlflowClient({uri!r}).search_experiments()",
        ],
        check=True,
        env=env,
        capture_output=True,
    )

    cli = [
        sys.executable,
        "-m",
        "inspect_mlflow",
        "--config-dir",
        str(conf),
        f"mlflow.tracking_uri={uri}",
    ]
    evals_script = folder / "evals.py"
    evals_script.write_text(_EVALS.format(models=MODELS))
    results: dict[str, list[tuple[float, dict[str, float]]]] = {
        k: [] for k in ("single", "sweep", "evals", "help", "dry_run")
    }
    for attempt in range(opts.repeat):
        for name in results:
            log_dir = folder / "logs" / f"{name}-{attempt}"
            if name == "single":
                args = [
                    *cli,
                    "model=bench",
                    f"task.args.samples={opts.samples}",
                    f"eval.log_dir={log_dir}",
                ]
            elif name == "sweep":
                args = [*cli, "+sweep=bench", f"eval.log_dir={log_dir}"]
            elif name == "evals":
                args = [
                    sys.executable,
                    str(evals_script),
                    uri,
                    str(log_dir),
                    str(opts.samples),
                    str(opts.latency),
                ]
            elif name == "help":
                args = [sys.executable, "-m", "inspect_mlflow", "--help"]
            else:
                args = [*cli, "+sweep=bench", "dry_run=true"]
            wall, phases, _ = timed(args, folder, env)
            results[name].append((wall, phases))
            print(
                f"  {name:8s} run {attempt + 1}: {wall:6.2f} s  {json.dumps(phases) if phases else ''}",
                flush=True,
            )

    def best(name: str) -> float:
        return min(wall for wall, _ in results[name])

    def median(values: list[float]) -> float:
        return statistics.median(values)

    own_keys = ("compose", "plan", "sweep_run", "compare", "end")
    own = [sum(p.get(k, 0.0) for k in own_keys) for _, p in results["sweep"]]
    phases = {
        k: median([p.get(k, 0.0) for _, p in results["sweep"]])
        for k in (*own_keys, "resolve", "eval_set")
    }
    single, sweep, evals = best("single"), best("sweep"), best("evals")
    med = {name: median([wall for wall, _ in results[name]]) for name in results}
    print()
    print(
        f"wall times, best (median) of {opts.repeat}; {opts.samples} samples, {opts.latency * 1000:g} ms per model call"
    )
    print(f"  single model eval:                         {single:6.2f} s ({med['single']:.2f})")
    print(f"  4-model sweep (+3 comparisons, a check):   {sweep:6.2f} s ({med['sweep']:.2f})")
    print(f"  the same 4 evals, bare eval_set + hooks:   {evals:6.2f} s ({med['evals']:.2f})")
    print(
        f"  --help: {best('help'):.2f} s ({med['help']:.2f}); dry_run: {best('dry_run'):.2f} s ({med['dry_run']:.2f})"
    )
    print(
        f"sweep / single = {sweep / single:.2f} (median {med['sweep'] / med['single']:.2f}); target <= 1.5"
    )
    print(
        f"sweep - bare evals = {sweep - evals:+.2f} s (median {med['sweep'] - med['evals']:+.2f} s)"
    )
    print(
        f"orchestrator's own phases = {min(own):.2f} s (median {median(own):.2f} s); target <= 1 s: "
        + ", ".join(f"{k} {phases[k]:.2f}" for k in own_keys)
    )
    print(
        f"  (medians of the other phases: resolve tasks and models {phases['resolve']:.2f} s, eval_set {phases['eval_set']:.2f} s)"
    )


if __name__ == "__main__":
    main()
