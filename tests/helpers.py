"""Test helpers: scripted mock model outputs and readers for what landed in MLflow."""

from __future__ import annotations

import json
import re
from typing import Any

from inspect_ai.model import ChatMessageTool, ModelOutput, ModelUsage
from inspect_ai.tool import Tool, ToolError, tool
from mlflow import MlflowClient
from mlflow.entities import Run

USAGE = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


def usage() -> ModelUsage:
    return ModelUsage(**USAGE)


def scripted_agent(answers: dict[int, str]) -> Any:
    """Mock outputs: call ``add``, then ``broken`` (a tool error), then answer per sample number.

    Samples are recognised by "Question N" in their first user message.
    """

    def respond(input: list[Any], tools: Any, tool_choice: Any, config: Any) -> ModelOutput:
        number = int(re.search(r"Question (\d+)", input[0].text).group(1))  # type: ignore[union-attr]
        tool_turns = sum(isinstance(m, ChatMessageTool) for m in input)
        if tool_turns == 0:
            output = ModelOutput.for_tool_call("mockllm/model", "add", {"a": 2, "b": 3})
        elif tool_turns == 1:
            output = ModelOutput.for_tool_call("mockllm/model", "broken", {"x": "y"})
        else:
            output = ModelOutput.from_content("mockllm/model", answers[number])
        output.usage = usage()
        return output

    return respond


def runs(client: MlflowClient, experiment: str = "inspect_ai") -> list[Run]:
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    return list(client.search_runs([exp.experiment_id], order_by=["start_time ASC"]))


def task_runs(client: MlflowClient, experiment: str = "inspect_ai") -> list[Run]:
    return [r for r in runs(client, experiment) if "inspect.eval_id" in r.data.tags]


def table(client: MlflowClient, run_id: str, artifact_file: str) -> dict[str, Any]:
    """A logged table as {"columns": [...], "data": [[...], ...]}."""
    path = client.download_artifacts(run_id, artifact_file)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_artifact_text(client: MlflowClient, run_id: str, path: str = "") -> str:
    text = []
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            text.append(all_artifact_text(client, run_id, item.path))
        else:
            with open(client.download_artifacts(run_id, item.path), encoding="utf-8") as f:
                text.append(f.read())
    return "\n".join(text)


@tool
def add() -> Tool:
    async def execute(a: int, b: int, api_key: str = "") -> int:
        """Add two numbers.

        Args:
            a: First number.
            b: Second number.
            api_key: Ignored (checks that credentials never reach traces).
        """
        return a + b

    return execute


@tool
def broken() -> Tool:
    async def execute(x: str) -> str:
        """A tool that always reports an error to the model.

        Args:
            x: Anything.
        """
        raise ToolError("broken tool")

    return execute
