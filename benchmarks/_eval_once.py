"""One benchmark eval in its own process (driven by bench_hooks.py / bench_tracing.py).

Prints a JSON line with the eval's wall time, this process's peak RSS and the writer
process's peak RSS (after the writer has drained and exited).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from inspect_ai import Task, eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ModelOutput, ModelUsage
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate


def mock_output(input: object, tools: object, tool_choice: object, config: object) -> ModelOutput:
    output = ModelOutput.from_content("mockllm/model", "42")
    output.usage = ModelUsage(input_tokens=20, output_tokens=2, total_tokens=22)
    return output


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["cpu", "latency"], required=True)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--log-dir", required=True)
    args = parser.parse_args()

    dataset = MemoryDataset(
        [Sample(id=i, input=f"What is 6 * 7? ({i})", target="42") for i in range(args.samples)]
    )
    task = Task(dataset=dataset, solver=generate(), scorer=[match(), includes()], name="bench")
    if args.mode == "cpu":
        model, model_args = "mockllm/model", {"custom_outputs": mock_output}
        max_samples = None
    else:
        model = "simulated/bench"
        model_args = {
            "accuracy": 0.8,
            "latency": args.latency,
            "input_tokens": 20,
            "output_tokens": 2,
        }
        max_samples = args.concurrency
    start = time.perf_counter()
    logs = eval(
        task, model=model, model_args=model_args, log_dir=args.log_dir, display="none",
        max_samples=max_samples, max_connections=max(args.concurrency, 10),
    )  # fmt: skip
    eval_seconds = time.perf_counter() - start
    assert logs[0].status == "success", logs[0].error
    from inspect_mlflow._sink._sink import close_sink

    close_sink()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    writer = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"eval_s": eval_seconds, "rss_mb": own, "writer_rss_mb": writer}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
