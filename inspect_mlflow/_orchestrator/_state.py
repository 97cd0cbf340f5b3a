"""Process-wide state of one ``run_app`` call (exit code, the open multirun sweep)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._recorder import Recorder
    from inspect_mlflow._orchestrator._tracker import Tracker


@dataclass
class AppState:
    exit_code: int | None = None
    """Set by the job (single run) or by the multirun callback; ``None``: Hydra failed first."""
    recorder: Recorder | None = None
    """The multirun's sweep recorder, so an interrupt can mark the sweep run KILLED."""
    started: float = 0.0
    """``time.perf_counter()`` when ``run_app`` started (the compose phase is measured from it)."""
    prestarted: Tracker | None = None
    """The MLflow helper, started before Hydra composes (it imports MLflow meanwhile)."""

    def reset(self) -> None:
        self.exit_code = None
        self.recorder = None
        self.started = time.perf_counter()
        self.discard_prestarted()

    def discard_prestarted(self) -> None:
        if self.prestarted is not None:
            self.prestarted.close(timeout=0)
            self.prestarted = None


STATE = AppState()
