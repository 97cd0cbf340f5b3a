"""Benchmark ``compare_evals`` on two 10,000-sample logs.

Measures the best of ``--repeat`` runs of

- ``read summaries``: Inspect reading both logs' sample summaries (the floor for any comparison),
- ``compare_evals``: ``compare_evals(baseline, candidate)`` end to end (header, summaries,
  alignment, statistics), and the same with ``cluster="group"`` (clustered standard errors),

interleaved in one process so that load from other processes hits them alike; then, each in a
fresh process, the peak RSS of a process that only compares, and Inspect reading both logs whole
with ``read_eval_log`` (what a naive comparison does). It prints ``compare / summaries`` (target
<= 1.5), ``read_eval_log / compare`` (target >= 5) and the compare peak RSS (target <= 500 MB).
No assertions: the figures are recorded in the README.

The two logs are produced once with a real ``inspect_ai.eval`` on ``mockllm/model`` (2-4 minutes
per log on 2 cores) and cached; pass ``--cache-dir`` to choose where.

    python benchmarks/bench_compare.py [--samples 10000] [--repeat 5] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "inspect_mlflow_bench_compare"


def _generate(cache_dir: Path, samples: int) -> tuple[Path, Path]:
    """Run the two evals (baseline and candidate) unless their logs are cached."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for role in ("baseline", "candidate"):
        marker = cache_dir / f"{role}-{samples}.path"
        if marker.exists() and Path(marker.read_text().strip()).exists():
            paths[role] = Path(marker.read_text().strip())
            continue
        print(f"generating the {role} log ({samples} samples, one-off)...", flush=True)
        start = time.perf_counter()
        location = _run_eval(cache_dir / role, samples, role)
        print(f"  {time.perf_counter() - start:.0f} s: {location}", flush=True)
        marker.write_text(str(location))
        paths[role] = Path(location)
    return paths["baseline"], paths["candidate"]


def _run_eval(log_dir: Path, samples: int, role: str) -> str:
    from inspect_ai import Task, eval
    from inspect_ai.dataset import MemoryDataset, Sample
    from inspect_ai.model import ChatMessage, GenerateConfig, ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import Score, Scorer, Target, includes, mean, scorer
    from inspect_ai.solver import TaskState, generate
    from inspect_ai.tool import ToolChoice, ToolInfo

    # The candidate answers a different (overlapping) subset correctly, so the comparison has
    # discordant pairs and non-trivial continuous differences to test.
    shift = 0 if role == "baseline" else 1

    def output(
        input: list[ChatMessage], tools: list[ToolInfo], choice: ToolChoice, config: GenerateConfig
    ) -> ModelOutput:
        qid = int(input[-1].text.split(":", 1)[0][1:])
        right = (qid * 7 + shift) % 10 < 7
        answer = f"{qid} q={((qid * 37 + shift * 11) % 100) / 100:.2f}" if right else "unsure q=0"
        return ModelOutput.from_content("mockllm/model", answer).model_copy(
            update={
                "usage": ModelUsage(
                    input_tokens=20, output_tokens=5, total_tokens=25, total_cost=0.0001
                )
            }
        )

    @scorer(metrics=[mean()])
    def quality() -> Scorer:
        async def score(state: TaskState, target: Target) -> Score:
            return Score(value=float(state.output.completion.rsplit("q=", 1)[1]))

        return score

    dataset = MemoryDataset(
        [
            Sample(
                id=i,
                input=f"Q{i}: what is {i}?",
                target=str(i),
                metadata={"group": f"g{i % 50}", "source": "bench"},
            )
            for i in range(1, samples + 1)
        ]
    )
    task = Task(name="bench_qa", dataset=dataset, solver=generate(), scorer=[includes(), quality()])
    [log] = eval(
        task,
        model=get_model("mockllm/model", custom_outputs=output),
        log_dir=str(log_dir),
        display="none",
        max_samples=100,
    )
    if log.status != "success":
        raise RuntimeError(f"benchmark eval failed: {log.status} {log.error}")
    return log.location


_WORKER = r"""
import json, resource, sys, time
kind, baseline, candidate, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
from inspect_ai.log import read_eval_log, read_eval_log_sample_summaries
from inspect_mlflow.comparison import compare_evals
steps = {
    "summaries": lambda: [read_eval_log_sample_summaries(p) for p in (baseline, candidate)],
    "compare": lambda: compare_evals(baseline, candidate),
    "compare_cluster": lambda: compare_evals(baseline, candidate, cluster="group"),
    "full": lambda: [read_eval_log(p) for p in (baseline, candidate)],
}
# "timing" interleaves the cheap steps so that load from other processes hits them alike
names = ["summaries", "compare", "compare_cluster"] if kind == "timing" else [kind]
wall = {name: [] for name in names}
cpu = {name: [] for name in names}
for _ in range(repeat):
    for name in names:
        start, start_cpu = time.perf_counter(), time.process_time()
        steps[name]()
        wall[name].append(time.perf_counter() - start)
        cpu[name].append(time.process_time() - start_cpu)
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({
    "best": {k: min(v) for k, v in wall.items()},
    "best_cpu": {k: min(v) for k, v in cpu.items()},
    "peak_rss_mb": rss_mb,
}))
"""


def _measure(kind: str, baseline: Path, candidate: Path, repeat: int) -> dict[str, object]:
    """Run one worker process; returns its best time per step and its peak RSS."""
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER, kind, str(baseline), str(candidate), str(repeat)],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} measurement failed:\n{proc.stderr}")
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (best kept)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--generate-only", action="store_true")
    args = parser.parse_args()

    baseline, candidate = _generate(args.cache_dir, args.samples)
    if args.generate_only:
        return 0
    size_mb = (baseline.stat().st_size + candidate.stat().st_size) / 1e6
    print(f"logs: 2 x {args.samples} samples, {size_mb:.1f} MB on disk")

    _measure("summaries", baseline, candidate, 1)  # warm the page cache
    timing = _measure("timing", baseline, candidate, args.repeat)
    wall, cpu = timing["best"], timing["best_cpu"]
    # peak RSS of a process that only compares (the timing process also held the summaries)
    rss = _measure("compare", baseline, candidate, 1)["peak_rss_mb"]
    rss_summaries = _measure("summaries", baseline, candidate, 1)["peak_rss_mb"]
    full = _measure("full", baseline, candidate, 1)
    assert isinstance(wall, dict) and isinstance(cpu, dict) and isinstance(full["best"], dict)
    full_s = full["best"]["full"]
    print(f"best of {args.repeat}, wall clock (CPU time):")
    for label, key in (
        ("read summaries (both)", "summaries"),
        ("compare_evals", "compare"),
        ("compare_evals(cluster=)", "compare_cluster"),
    ):
        print(f"  {label:24s} {wall[key]:6.2f} s ({cpu[key]:.2f} s)")
    print(f"  {'read_eval_log (both)':24s} {full_s:6.2f} s")
    print(f"peak RSS: compare {rss:.0f} MB, read summaries {rss_summaries:.0f} MB, ", end="")
    print(f"read_eval_log {full['peak_rss_mb']:.0f} MB")
    for label, key in (("compare", "compare"), ("compare(cluster=)", "compare_cluster")):
        print(
            f"{label + ' / read summaries':36s}= {wall[key] / wall['summaries']:.2f} wall, "
            f"{cpu[key] / cpu['summaries']:.2f} CPU  (target <= 1.5)"
        )
    print(f"{'read_eval_log / compare':36s}= {full_s / wall['compare']:.1f}  (target >= 5)")
    print(f"{'compare peak RSS':36s}= {rss:.0f} MB  (target <= 500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
