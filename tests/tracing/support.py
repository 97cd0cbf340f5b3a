"""Shared pieces of the tracing tests: a scripted agent task and readers for traces in MLflow."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.model import ChatMessageTool, ModelOutput
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate, use_tools
from inspect_ai.tool import Tool, tool
from mlflow import MlflowClient
from mlflow.entities import Trace

from tests.helpers import add, broken, usage  # noqa: F401  (re-exported for the tests)

# sample 1: right for both scorers; 2: only `includes` accepts it; 3: wrong for both;
# 4: its first tool call raises (not a ToolError), so the sample errors
ANSWERS = {1: "5", 2: "5 is the answer, I think", 3: "no idea"}
ERRORING_SAMPLE = 4


@tool
def explode() -> Tool:
    async def execute() -> str:
        """A tool whose failure ends the sample."""
        raise RuntimeError("kaboom")

    return execute


SECRET = "sk-TOPSECRET-123"


def agent_outputs(input: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
    """Per sample: call ``add``, then ``broken`` (a tool error), then answer; sample 4 explodes."""
    number = int(re.search(r"Question (\d+)", input[0].text).group(1))  # type: ignore[union-attr]
    tool_turns = sum(isinstance(m, ChatMessageTool) for m in input)
    if number == ERRORING_SAMPLE:
        output = ModelOutput.for_tool_call("mockllm/model", "explode", {})
    elif tool_turns == 0:
        output = ModelOutput.for_tool_call(
            "mockllm/model", "add", {"a": 2, "b": 3, "api_key": SECRET}
        )
    elif tool_turns == 1:
        output = ModelOutput.for_tool_call("mockllm/model", "broken", {"x": "y"})
    else:
        output = ModelOutput.from_content("mockllm/model", ANSWERS[number])
    output.usage = usage()
    return output


@task
def traced_agent(n: int = 4) -> Task:
    return Task(
        dataset=[
            Sample(id=i, input=f"Question {i}: what is 2+3?", target="5") for i in range(1, n + 1)
        ],
        solver=[use_tools(add(), broken(), explode()), generate()],
        scorer=[match(), includes()],
    )


@contextmanager
def working_dir(path: Path) -> Iterator[None]:
    """Run in ``path`` (MLflow puts a SQLite store's artifacts under the current directory)."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def copy_store(template: Path, directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, directory / "mlflow.db")
    return f"sqlite:///{directory / 'mlflow.db'}"


def experiment_id(client: MlflowClient, name: str = "inspect_ai") -> str:
    experiment = client.get_experiment_by_name(name)
    assert experiment is not None, f"no experiment {name!r}"
    return str(experiment.experiment_id)


def all_traces(
    client: MlflowClient, experiment: str = "inspect_ai", run_id: str | None = None
) -> list[Trace]:
    """Every trace of the experiment (or of one run), with spans."""
    exp = experiment_id(client, experiment)
    traces: list[Trace] = []
    token = None
    while True:
        page = client.search_traces(
            locations=[exp], run_id=run_id, max_results=500, page_token=token
        )
        traces.extend(page)
        token = page.token
        if not token:
            return traces
