"""Session fixture: the real Inspect logs of :mod:`tests.comparison.scenario` (two eval() calls)."""

from __future__ import annotations

import pytest
from inspect_ai.log import write_eval_log

from tests.comparison.scenario import Scenario, run


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    log_dir = tmp_path_factory.mktemp("comparison_logs")
    baseline = run("baseline", log_dir)
    candidate = run("candidate", log_dir)
    qa_json = log_dir / "qa_baseline.json"
    write_eval_log(baseline.qa, str(qa_json))
    empty = log_dir / "empty.eval"
    write_eval_log(baseline.qa.model_copy(update={"samples": []}), str(empty))
    return Scenario(
        baseline=baseline, candidate=candidate, qa_json=qa_json, empty=empty, log_dir=log_dir
    )
