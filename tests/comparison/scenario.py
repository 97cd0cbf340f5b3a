"""The comparison tests' scenario: tasks, mock model and answer tables (real Inspect evals).

Two ``eval()`` calls (a "baseline" and a "candidate" mock model) each run three tasks:

- ``qa``: 20 questions (baseline ids 1-20, candidate ids 1-19 and 21), scored by ``match()``
  (C/I), a numeric ``quality`` scorer, a dict-valued ``parts`` scorer (``ok`` bool, ``chars``
  number, ``tag`` string) and a ``label`` scorer whose values are words. Candidate question 19
  errors. Metadata carries a ``group`` (clusters of 4) and a ``doc`` key whose values are
  longer than Inspect keeps in sample summaries and differ only past the cut.
- ``qa_epochs``: 8 questions × 3 epochs with known per-epoch correctness.
- ``ids``: ids ``"1"``, ``"2"``, ``"3"``, ``"04"`` in the baseline and ``1, 2, 3, 4`` in the
  candidate (``"1"`` and ``1`` are one sample, ``"04"`` and ``4`` are not).

The model answers from the tables below, so every expected value in the tests is computed
from these tables with plain numpy/scipy, never from the package's own helpers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from inspect_ai import Task, eval
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.log import EvalLog
from inspect_ai.model import (
    ChatMessage,
    GenerateConfig,
    Model,
    ModelOutput,
    ModelUsage,
    get_model,
)
from inspect_ai.scorer import Score, Scorer, Target, match, mean, scorer
from inspect_ai.solver import Generate, Solver, TaskState, generate, solver
from inspect_ai.tool import ToolChoice, ToolInfo

QA_BASELINE_IDS = list(range(1, 21))
QA_CANDIDATE_IDS = list(range(1, 20)) + [21]
BASELINE_CORRECT = set(range(1, 13))  # 1..12
CANDIDATE_CORRECT = set(range(5, 19)) | {21}  # 5..18 and 21 (19 errors)
CANDIDATE_ERROR = 19
BASELINE_QUALITY = {i: round(((i * 37) % 17) / 20, 2) for i in range(1, 22)}
QUALITY_LIFT = {i: round(0.05 + ((i * 13) % 7) / 50, 2) for i in range(1, 22)}
CANDIDATE_QUALITY = {i: round(BASELINE_QUALITY[i] + QUALITY_LIFT[i], 2) for i in range(1, 22)}
GROUP = {i: f"g{(i - 1) // 4}" for i in range(1, 22)}
DOC_PREFIX = "lorem ipsum " * 150  # ~1800 characters: summaries keep only ~1k
DOC = {i: f"{DOC_PREFIX}doc{(i - 1) % 4}" for i in range(1, 22)}

EPOCH_IDS = list(range(1, 9))
EPOCHS = 3
# per question: correctness in epochs 1, 2, 3
EPOCH_BASELINE = {
    1: (1, 1, 1),
    2: (1, 1, 0),
    3: (1, 0, 0),
    4: (0, 0, 0),
    5: (1, 1, 1),
    6: (0, 1, 0),
    7: (1, 0, 1),
    8: (0, 0, 0),
}
EPOCH_CANDIDATE = {
    1: (1, 1, 1),
    2: (1, 1, 1),
    3: (1, 1, 0),
    4: (0, 1, 0),
    5: (1, 0, 1),
    6: (1, 1, 1),
    7: (1, 0, 1),
    8: (0, 1, 1),
}

IDS_BASELINE = ["1", "2", "3", "04"]
IDS_CANDIDATE = [1, 2, 3, 4]

COST = {"baseline": 0.001, "candidate": 0.0025}
TOKENS = {"baseline": (10, 5), "candidate": (12, 9)}


@dataclass
class Logs:
    """The logs of one run (one eval() call)."""

    qa: EvalLog
    qa_epochs: EvalLog
    ids: EvalLog


@dataclass
class Scenario:
    baseline: Logs
    candidate: Logs
    qa_json: Path
    """The baseline ``qa`` log rewritten as ``.json``."""
    empty: Path
    """The baseline ``qa`` log with its samples removed."""
    log_dir: Path


@solver
def tag_epoch() -> Solver:
    """Append the epoch to the prompt so the mock model can answer per epoch."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        state.messages[-1].content = f"{state.messages[-1].text} [epoch {state.epoch}]"
        return state

    return solve


@scorer(metrics=[mean()])
def quality() -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        found = re.search(r"q=([0-9.]+)", state.output.completion)
        return Score(value=float(found.group(1)) if found else 0.0)

    return score


@scorer(metrics={"ok": [mean()], "chars": [mean()]})
def parts() -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        answer = state.output.completion.rsplit("ANSWER: ", 1)[-1]
        return Score(value={"ok": answer == target.text, "chars": len(answer), "tag": "t" + answer})

    return score


@scorer(metrics=[])
def label() -> Scorer:
    async def score(state: TaskState, target: Target) -> Score:
        return Score(value="good" if "ANSWER: wrong" not in state.output.completion else "bad")

    return score


def _answer(role: str, task: str, qid: str, epoch: int) -> tuple[str, float]:
    """(answer text, quality) the mock model gives."""
    if task == "qa":
        i = int(qid)
        correct = i in (BASELINE_CORRECT if role == "baseline" else CANDIDATE_CORRECT)
        q = BASELINE_QUALITY[i] if role == "baseline" else CANDIDATE_QUALITY[i]
        return (str(i) if correct else "wrong"), q
    if task == "qa_epochs":
        i = int(qid)
        table = EPOCH_BASELINE if role == "baseline" else EPOCH_CANDIDATE
        return (str(i) if table[i][epoch - 1] else "wrong"), 0.5
    return str(int(qid)), 0.5  # ids task: always right


def _model(role: str) -> Model:
    input_tokens, output_tokens = TOKENS[role]

    def output(
        input: list[ChatMessage], tools: list[ToolInfo], choice: ToolChoice, config: GenerateConfig
    ) -> ModelOutput:
        found = re.match(r"\[(\w+)\] Q(\w+):.*\[epoch (\d+)\]", input[-1].text)
        assert found, input[-1].text
        task, qid, epoch = found.group(1), found.group(2), int(found.group(3))
        if role == "candidate" and task == "qa" and qid == str(CANDIDATE_ERROR):
            raise RuntimeError("mock failure for question 19")
        text, q = _answer(role, task, qid, epoch)
        return ModelOutput.from_content("mockllm/model", f"q={q} ANSWER: {text}").model_copy(
            update={
                "usage": ModelUsage(
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    total_tokens=input_tokens + output_tokens,
                    total_cost=COST[role],
                )
            }
        )

    return get_model("mockllm/model", custom_outputs=output)


def _tasks(role: str) -> list[Task]:
    qa_ids = QA_BASELINE_IDS if role == "baseline" else QA_CANDIDATE_IDS
    qa = Task(
        name="qa",
        dataset=MemoryDataset(
            [
                Sample(
                    id=i,
                    input=f"[qa] Q{i}: what is {i}?",
                    target=str(i),
                    metadata={"group": GROUP[i], "doc": DOC[i]},
                )
                for i in qa_ids
            ]
        ),
        solver=[tag_epoch(), generate()],
        scorer=[match(), quality(), parts(), label()],
    )
    qa_epochs = Task(
        name="qa_epochs",
        dataset=MemoryDataset(
            [
                Sample(id=i, input=f"[qa_epochs] Q{i}: what is {i}?", target=str(i))
                for i in EPOCH_IDS
            ]
        ),
        solver=[tag_epoch(), generate()],
        scorer=match(),
        epochs=EPOCHS,
    )
    ids = IDS_BASELINE if role == "baseline" else IDS_CANDIDATE
    ids_task = Task(
        name="ids",
        dataset=MemoryDataset(
            [
                Sample(id=i, input=f"[ids] Q{int(i)}: what is {int(i)}?", target=str(int(i)))
                for i in ids
            ]
        ),
        solver=[tag_epoch(), generate()],
        scorer=match(),
    )
    return [qa, qa_epochs, ids_task]


def run(role: str, log_dir: Path) -> Logs:
    """Run the three tasks with the role's mock model; one eval() call."""
    logs = eval(
        _tasks(role),
        model=_model(role),
        log_dir=str(log_dir / role),
        display="none",
        fail_on_error=False,
        max_tasks=3,
    )
    by_task = {log.eval.task: log for log in logs}
    for log in logs:
        assert log.status == "success", (log.eval.task, log.error)
    return Logs(qa=by_task["qa"], qa_epochs=by_task["qa_epochs"], ids=by_task["ids"])
