"""The sweep's MLflow side, seen from the main process: requests to the hooks' writer.

The sweep run is opened through the same writer the hooks use (``Sink.call``), in order with
their records: the eval starts at once, its runs nest under the sweep run by its key, and no
second process imports MLflow. Comparisons and their write-back run in the writer too, whose
imports are warm by the time the evals end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspect_mlflow._orchestrator._schema import CheckSpec, RunConfig
from inspect_mlflow._orchestrator._session import (
    PointRun,
    Printer,
    console,
    git_tags,
    sink_settings,
    sweep_key,
)

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome, Side
    from inspect_mlflow._sink._sink import Sink

CALL_TIMEOUT = 600.0


class Recorder:
    """The sweep's MLflow side (a no-op when MLflow is disabled)."""

    def __init__(self, config: RunConfig) -> None:
        self.enabled = config.mlflow.enabled
        self.experiment = config.mlflow.experiment_name
        self.sink: Sink | None = None
        self.uri = ""
        self.key: str | None = None
        self._opening: Future[Any] | None = None
        self._opened: dict[str, Any] | None = None
        self._open_error: str | None = None
        self._ended = False
        if self.enabled:
            from inspect_mlflow._sink._sink import get_sink

            settings = sink_settings(config)
            assert settings.tracking_uri is not None
            self.uri = settings.tracking_uri
            self.sink = get_sink(settings)  # adopts the writer prestarted by run_app

    def open(
        self,
        config: RunConfig,
        name: str,
        log_dir: Path,
        overrides: Sequence[str],
        config_yaml: str,
        mode: str,
        comparisons: bool = True,
    ) -> str | None:
        """Ask the writer to create (or reopen) the sweep run; returns its key at once.

        Runs started later through the same writer nest under it by this key
        (``Settings.parent_run_key``); :meth:`opened` waits for the answer. With
        ``comparisons`` the writer also loads what the comparisons need, while the evals run.
        """
        from inspect_mlflow._orchestrator._compose import override_params

        if self.sink is None:
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
        self._opening = self.sink.call(
            "open_sweep",
            experiment=self.experiment,
            key=self.key,
            name=config.mlflow.sweep_run_name or f"sweep/{name}",
            tags=tags,
            params=override_params(overrides),
            config_yaml=config_yaml,
        )
        if comparisons and config.compare.enabled:
            self.sink.call("warm", plot=config.compare.plot)
        return self.key

    def opened(self, out: Printer, wait: bool = True) -> str | None:
        """The sweep run's id once the writer has opened it (``None``: not opened, or not yet
        when ``wait`` is false); says which run it is, once."""
        if self._opening is None:
            return self._opened["run_id"] if self._opened else None
        if not wait and not self._opening.done():
            return None
        opening, self._opening = self._opening, None
        try:
            answer: dict[str, Any] = opening.result(CALL_TIMEOUT)
        except Exception as ex:
            out(
                f"inspect_mlflow: warning: the sweep run could not be written to MLflow at "
                f"{self.uri}: {ex}. The evals' runs follow the hooks' rules; comparisons are "
                "reported here but not written back."
            )
            return None
        self._opened = answer
        if answer["run_id"] is None:
            out(
                f"inspect_mlflow: warning: MLflow at {self.uri} is unavailable: the sweep run and "
                f"the evals' runs are kept in {answer['spool']} (write them later with "
                f"`python -m inspect_mlflow replay {answer['spool']}`); comparisons are "
                "reported here but not written back."
            )
            return None
        verb = "resuming" if answer["resumed"] else "created"
        out(
            f"MLflow: {verb} sweep run {answer['run_id']} in experiment {self.experiment!r} ({self.uri})"
        )
        if answer["changed_params"]:
            out(
                "MLflow: the sweep run keeps its first values of "
                + ", ".join(answer["changed_params"])
                + " (MLflow params cannot change); see config/resolved.yaml for this run's"
            )
        return str(answer["run_id"])

    @property
    def writing(self) -> bool:
        """Whether the sweep run is open in MLflow (so results can be written back)."""
        return self._opened is not None and self._opened["run_id"] is not None and not self._ended

    def task_runs(self, runs: Sequence[PointRun]) -> dict[str, str]:
        """The hooks' task run of each point, by eval id."""
        eval_ids = [run.eval_id for run in runs if run.eval_id]
        if self.sink is None or not self.writing or not eval_ids:
            return {}
        result: dict[str, str] = self.sink.call(
            "task_runs",
            experiment=self.experiment,
            eval_ids=eval_ids,
            eval_set_ids=[run.eval_set_id for run in runs if run.eval_set_id],
        ).result(CALL_TIMEOUT)
        return result

    def compare(
        self,
        pairs: list[tuple[Side, Side]],
        config: RunConfig,
        check: CheckSpec | None,
        sweep: str,
    ) -> list[ComparisonOutcome]:
        """Compare in the writer (whose imports are warm) and write back; in this process when
        MLflow is off or the sweep run could not be written."""
        if self.sink is None or not self.writing or self.key is None:
            from inspect_mlflow._orchestrator._comparisons import compare_pairs

            return compare_pairs(pairs, config.compare, check)
        outcomes: list[ComparisonOutcome] = self.sink.call(
            "compare",
            pairs=pairs,
            compare=config.compare,
            check=check,
            experiment=self.experiment,
            sweep_key=self.key,
            tags={**config.mlflow.tags, "inspect_mlflow.sweep": sweep},
        ).result(CALL_TIMEOUT)
        return outcomes

    def end(
        self,
        status: str,
        metrics: Mapping[str, float] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if self.sink is None or self._ended:
            return
        if self._opening is not None:
            self.opened(console)
        if self._opened is None:
            return  # not opened at all (an answer with no run id: the end goes to the spool too)
        self._ended = True
        self.sink.call(
            "end_sweep", status=status, metrics=dict(metrics or {}), tags=dict(tags or {})
        ).result(CALL_TIMEOUT)

    def close(self) -> None:
        """Write what is queued and stop the writer (the hooks are done with it too)."""
        if self.sink is not None:
            from inspect_mlflow._sink._sink import close_sink

            self.sink = None
            close_sink()
