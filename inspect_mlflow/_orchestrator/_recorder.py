"""The sweep's MLflow side, seen from the main process: a client of the helper process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from inspect_mlflow._orchestrator._schema import CheckSpec, RunConfig
from inspect_mlflow._orchestrator._session import (
    PointRun,
    Printer,
    absolute_uri,
    git_tags,
    sweep_key,
)

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome, Side
    from inspect_mlflow._orchestrator._tracker import Tracker


class Recorder:
    """The sweep's MLflow side (a no-op when MLflow is disabled)."""

    def __init__(self, config: RunConfig) -> None:
        self.enabled = config.mlflow.enabled
        self.experiment = config.mlflow.experiment_name
        self.uri = absolute_uri(config.mlflow.tracking_uri or "") if self.enabled else ""
        self.tracker: Tracker | None = None
        self.key: str | None = None
        self.run_id: str | None = None
        self.resumed = False
        from inspect_mlflow._orchestrator._state import STATE

        prestarted, STATE.prestarted = STATE.prestarted, None
        if self.enabled and prestarted is not None:
            prestarted.connect(self.uri)
            self.tracker = prestarted
        elif self.enabled:
            from inspect_mlflow._orchestrator._tracker import Tracker

            self.tracker = Tracker(self.uri)
        elif prestarted is not None:
            prestarted.close(timeout=0)

    def open(
        self,
        config: RunConfig,
        name: str,
        log_dir: Path,
        overrides: Sequence[str],
        config_yaml: str,
        mode: str,
        out: Printer,
    ) -> str | None:
        from inspect_mlflow._orchestrator._compose import override_params

        if self.tracker is None:
            return None
        self.key = sweep_key(self.experiment, log_dir)
        tags = {
            **config.mlflow.tags,
            "inspect_mlflow.kind": "sweep",
            "inspect_mlflow.sweep": name,
            "inspect_mlflow.mode": mode,
            "inspect_mlflow.log_dir": str(log_dir),
            **git_tags(),
        }
        answer = self.tracker.call(
            "open_sweep",
            experiment=self.experiment,
            key=self.key,
            name=config.mlflow.sweep_run_name or f"sweep/{name}",
            tags=tags,
            params=override_params(overrides),
            config_yaml=config_yaml,
        )
        self.run_id = str(answer["run_id"])
        self.resumed = bool(answer["resumed"])
        verb = "resuming" if self.resumed else "created"
        out(
            f"MLflow: {verb} sweep run {self.run_id} in experiment {self.experiment!r} ({self.uri})"
        )
        if answer["changed_params"]:
            out(
                "MLflow: the sweep run keeps its first values of "
                + ", ".join(answer["changed_params"])
                + " (MLflow params cannot change); see config/resolved.yaml for this run's"
            )
        self.tracker.submit("warm")
        return self.run_id

    def task_runs(self, runs: Sequence[PointRun]) -> dict[str, str]:
        """The hooks' task run of each point, by eval id."""
        eval_ids = [run.eval_id for run in runs if run.eval_id]
        if self.tracker is None or self.run_id is None or not eval_ids:
            return {}
        result: dict[str, str] = self.tracker.call(
            "task_runs",
            experiment=self.experiment,
            eval_ids=eval_ids,
            eval_set_ids=[run.eval_set_id for run in runs if run.eval_set_id],
        )
        return result

    def compare(
        self,
        pairs: list[tuple[Side, Side]],
        config: RunConfig,
        check: CheckSpec | None,
        sweep: str,
    ) -> list[ComparisonOutcome]:
        """Compare (in the helper process, whose imports are warm) and write back; or in-process
        when MLflow is off."""
        if self.tracker is None or self.run_id is None or self.key is None:
            from inspect_mlflow._orchestrator._comparisons import compare_pairs

            return compare_pairs(pairs, config.compare, check)
        outcomes: list[ComparisonOutcome] = self.tracker.call(
            "compare",
            pairs=pairs,
            compare=config.compare,
            check=check,
            experiment=self.experiment,
            sweep_key=self.key,
            tags={**config.mlflow.tags, "inspect_mlflow.sweep": sweep},
        )
        return outcomes

    def end(
        self,
        status: str,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if self.tracker is None or self.run_id is None:
            return
        self.tracker.call(
            "end_sweep", status=status, metrics=dict(metrics or {}), tags=dict(tags or {})
        )
        self.run_id = None

    def close(self) -> None:
        if self.tracker is not None:
            # every request was answered, so everything is written: don't wait for the
            # helper's interpreter to tear MLflow down
            self.tracker.close(timeout=0 if self.run_id is None else 30)
            self.tracker = None
