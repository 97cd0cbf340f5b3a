"""An offline model for demos, tests and benchmarks: ``simulated/<name>``.

It answers each sample correctly with a configurable probability, decided by a seeded
random draw per (seed, model name, sample id, epoch), so the same configuration always
gives the same answers. Latency is an async sleep (so concurrency behaves like a real API),
token usage is always explicit (no tokenizer download), cost is registered with Inspect's
model info so Inspect computes ``total_cost`` itself, and it can call the offered tools first.

Model args (``-M key=value`` or ``model_args``):

==================  =======  ==============================================================
``accuracy``        0.7      probability of answering with the sample's target
``latency``         0.0      seconds to sleep per call
``latency_jitter``  0.0      extra uniform random sleep in ``[0, latency_jitter]`` seconds
``seed``            0        added to the draw; change it to get another "run"
``input_tokens``    0        input tokens per call (0: ~1 per 4 characters of input)
``output_tokens``   0        output tokens per call (0: ~1 per 4 characters of output)
``input_cost``      None     USD per million input tokens (with ``output_cost``: enables cost)
``output_cost``     None     USD per million output tokens
``tool_calls``      0        tool calls to make (to the first offered tool) before answering
``wrong_answer``    ""       text of a wrong answer (default: a fixed non-answer)
==================  =======  ==============================================================
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import anyio
from inspect_ai.model import (
    ChatMessage,
    ChatMessageTool,
    GenerateConfig,
    ModelAPI,
    ModelOutput,
    ModelUsage,
)
from inspect_ai.tool import ToolChoice, ToolInfo

WRONG_ANSWER = "I am not sure."


class SimulatedModel(ModelAPI):
    """Model API that needs no network, key or tokenizer."""

    def __init__(
        self,
        model_name: str,
        base_url: str | None = None,
        api_key: str | None = None,
        config: GenerateConfig = GenerateConfig(),  # noqa: B008 (Inspect's ModelAPI signature)
        accuracy: float = 0.7,
        latency: float = 0.0,
        latency_jitter: float = 0.0,
        seed: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        input_cost: float | None = None,
        output_cost: float | None = None,
        tool_calls: int = 0,
        wrong_answer: str = WRONG_ANSWER,
        **model_args: Any,
    ) -> None:
        super().__init__(model_name, base_url, api_key, [], config)
        if not 0.0 <= float(accuracy) <= 1.0:
            raise ValueError(f"simulated model: accuracy must be in [0, 1], got {accuracy}")
        if float(latency) < 0 or float(latency_jitter) < 0:
            raise ValueError("simulated model: latency and latency_jitter must be >= 0")
        self.accuracy = float(accuracy)
        self.latency = float(latency)
        self.latency_jitter = float(latency_jitter)
        self.seed = int(seed)
        self.input_tokens = int(input_tokens)
        self.output_tokens = int(output_tokens)
        self.tool_calls = int(tool_calls)
        self.wrong_answer = str(wrong_answer)
        self.extra_args = model_args
        if input_cost is not None or output_cost is not None:
            _register_cost(f"simulated/{model_name}", input_cost or 0.0, output_cost or 0.0)

    def max_connections(self) -> int:
        return 1000

    async def generate(
        self,
        input: list[ChatMessage],
        tools: list[ToolInfo],
        tool_choice: ToolChoice,
        config: GenerateConfig,
    ) -> ModelOutput:
        sample_id, epoch, target = _active_sample()
        draw = _draw(self.seed, self.model_name, sample_id, epoch)
        delay = self.latency + (draw.random() * self.latency_jitter if self.latency_jitter else 0)
        if delay > 0:
            await anyio.sleep(delay)

        tool_turns = sum(1 for message in input if isinstance(message, ChatMessageTool))
        if tools and tool_choice != "none" and tool_turns < self.tool_calls:
            tool = tools[0]
            output = ModelOutput.for_tool_call(
                model=self.model_name,
                tool_name=tool.name,
                tool_arguments=_placeholder_arguments(tool),
                tool_call_id=f"call_{tool_turns + 1}",
            )
            completion = f"{tool.name}()"
        else:
            correct = draw.random() < self.accuracy
            completion = target if correct and target is not None else self.wrong_answer
            output = ModelOutput.from_content(model=self.model_name, content=completion)

        prompt_chars = sum(len(message.text) for message in input)
        in_tokens = self.input_tokens or max(1, prompt_chars // 4)
        out_tokens = self.output_tokens or max(1, len(completion) // 4)
        output.usage = ModelUsage(
            input_tokens=in_tokens, output_tokens=out_tokens, total_tokens=in_tokens + out_tokens
        )
        output.time = delay
        return output


def _active_sample() -> tuple[str, int, str | None]:
    """Id, epoch and first target of the sample being run (empty outside an eval)."""
    from inspect_ai.log._samples import sample_active

    active = sample_active()
    if active is None:
        return "", 0, None
    target = active.sample.target
    first = target[0] if isinstance(target, list) and target else target
    return str(active.sample.id), int(active.epoch), (str(first) if first else None)


def _draw(seed: int, model_name: str, sample_id: str, epoch: int) -> random.Random:
    # hashlib, not hash(): Python's str hash is salted per process.
    digest = hashlib.sha256(f"{seed}|{model_name}|{sample_id}|{epoch}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _placeholder_arguments(tool: ToolInfo) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "string": "x",
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }
    arguments: dict[str, Any] = {}
    for name in tool.parameters.required:
        param = tool.parameters.properties.get(name)
        kind = param.type if param is not None and isinstance(param.type, str) else "string"
        arguments[name] = defaults.get(kind, "x")
    return arguments


def _register_cost(model: str, input_cost: float, output_cost: float) -> None:
    from inspect_ai.model import ModelCost, ModelInfo, set_model_info

    set_model_info(
        model,
        ModelInfo(
            cost=ModelCost(
                input=input_cost,
                output=output_cost,
                input_cache_write=input_cost,
                input_cache_read=input_cost,
            )
        ),
    )
