"""Example tasks shipped with the package (``inspect_mlflow/arithmetic``, ``inspect_mlflow/capitals``).

They build their datasets in code, so they run offline from an installed wheel in any
directory, and pair naturally with the ``simulated/<name>`` model.
"""

from __future__ import annotations

import random

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import includes, match
from inspect_ai.solver import generate, use_tools
from inspect_ai.tool import Tool, tool

_CAPITALS = [
    ("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Peru", "Lima"),
    ("Canada", "Ottawa"), ("Egypt", "Cairo"), ("Norway", "Oslo"), ("Chile", "Santiago"),
    ("India", "New Delhi"), ("Spain", "Madrid"), ("Ghana", "Accra"), ("Italy", "Rome"),
    ("Cuba", "Havana"), ("Nepal", "Kathmandu"), ("Poland", "Warsaw"), ("Iran", "Tehran"),
    ("Mali", "Bamako"), ("Laos", "Vientiane"), ("Fiji", "Suva"), ("Oman", "Muscat"),
]  # fmt: skip


@tool
def calculator() -> Tool:
    async def execute(expression: str) -> str:
        """Evaluate a simple arithmetic expression.

        Args:
            expression: An expression such as "17 + 25".
        """
        left, op, right = expression.split() if expression.count(" ") == 2 else ("0", "+", "0")
        a, b = int(left), int(right)
        return str(a + b if op == "+" else a - b if op == "-" else a * b)

    return execute


@task
def arithmetic(samples: int = 20, seed: int = 0, tools: bool = False) -> Task:
    """Addition and multiplication questions with exact numeric answers.

    Args:
        samples: Number of questions.
        seed: Seed for generating the questions.
        tools: Offer a calculator tool.
    """
    rng = random.Random(seed)
    dataset = []
    for index in range(1, samples + 1):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        op = "+" if index % 2 else "*"
        dataset.append(
            Sample(
                id=index,
                input=f"What is {a} {op} {b}? Answer with the number only.",
                target=str(a + b if op == "+" else a * b),
                metadata={"operation": "addition" if op == "+" else "multiplication"},
            )
        )
    solver = [use_tools(calculator()), generate()] if tools else [generate()]
    return Task(dataset=MemoryDataset(dataset, name="arithmetic"), solver=solver, scorer=match())


@task
def capitals(samples: int = 20) -> Task:
    """Name the capital city of a country.

    Args:
        samples: Number of questions (at most 20).
    """
    dataset = [
        Sample(id=i, input=f"What is the capital of {country}?", target=city,
               metadata={"region_initial": country[0]})
        for i, (country, city) in enumerate(_CAPITALS[:samples], start=1)
    ]  # fmt: skip
    return Task(
        dataset=MemoryDataset(dataset, name="capitals"), solver=generate(), scorer=includes()
    )
