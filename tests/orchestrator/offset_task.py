"""A task file for the tests: questions numbered from ``start`` (to plant disjoint datasets)."""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def numbered(start: int = 1, samples: int = 3) -> Task:
    return Task(
        dataset=[
            Sample(id=i, input=f"Say {i}", target=str(i)) for i in range(start, start + samples)
        ],
        solver=generate(),
        scorer=match(),
    )
