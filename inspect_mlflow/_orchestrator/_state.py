"""Process-wide state of one ``run_app`` call (exit code, the open multirun sweep)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._recorder import Recorder


@dataclass
class AppState:
    exit_code: int | None = None
    """Set by the job (single run) or by the multirun callback; ``None``: Hydra failed first."""
    recorder: Recorder | None = None
    """The multirun's sweep recorder, so an interrupt can mark the sweep run KILLED."""
    started: float = 0.0
    """``time.perf_counter()`` when ``run_app`` started (the compose phase is measured from it)."""

    def reset(self) -> None:
        from inspect_mlflow._orchestrator._session import forget_git_tags

        self.exit_code = None
        self.recorder = None
        self.started = time.perf_counter()
        forget_git_tags()


STATE = AppState()
