"""A minimal task file for ``examples/conf/task/my_task.yaml``."""

from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import match
from inspect_ai.solver import generate


@task
def yes_no(samples: int = 10) -> Task:
    return Task(
        dataset=[
            Sample(
                id=i, input=f"Is {i} even? Answer yes or no.", target="yes" if i % 2 == 0 else "no"
            )
            for i in range(1, samples + 1)
        ],
        solver=generate(),
        scorer=match(),
    )
