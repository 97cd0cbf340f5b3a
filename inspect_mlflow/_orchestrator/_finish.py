"""The end of a sweep: compare, write back, print the tables, run the checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from inspect_mlflow._orchestrator._errors import EXIT_FAILED, EXIT_OK
from inspect_mlflow._orchestrator._plan import plan_comparisons, varying_axes
from inspect_mlflow._orchestrator._recorder import Recorder
from inspect_mlflow._orchestrator._schema import RunConfig
from inspect_mlflow._orchestrator._session import PointRun, Printer

if TYPE_CHECKING:
    from inspect_mlflow._orchestrator._comparisons import ComparisonOutcome


def finish(
    config: RunConfig, runs: Sequence[PointRun], recorder: Recorder, sweep: str, out: Printer
) -> tuple[int, list[ComparisonOutcome]]:
    """Compare, write back, print the tables, run the checks; returns the exit code.

    The caller ends the sweep run (it knows whether the sweep was interrupted), with
    :func:`sweep_end_values`.
    """
    from inspect_mlflow._orchestrator._comparisons import Side
    from inspect_mlflow._orchestrator._report import (
        comparison_table,
        gate_lines,
        points_table,
        write_reports,
    )

    code = EXIT_OK
    failed = [run for run in runs if run.status != "success"]
    if failed:
        code = EXIT_FAILED
    by_key = {run.point.key: run for run in runs}
    task_runs = recorder.task_runs(runs)

    varying = varying_axes([run.point for run in runs])

    def side(run: PointRun, other: PointRun) -> Side:
        assert run.log_file is not None
        differing = [
            axis
            for axis in run.point.axes
            if axis != "task" and str(run.point.axes[axis]) != str(other.point.axes.get(axis))
        ]
        shared = [axis for axis in varying if axis != "task" and axis not in differing]
        return Side(
            log=run.log_file,
            label=run.point.describe(),
            run_id=task_runs.get(run.eval_id or ""),
            eval_id=run.eval_id,
            point_key=run.point.key,
            short=run.point.describe(differing) if differing else None,
            context=run.point.describe(shared) if shared else None,
        )

    pairs = []
    skipped = []
    for base_point, cand_point in plan_comparisons([run.point for run in runs], config.compare):
        base, cand = by_key[base_point.key], by_key[cand_point.key]
        if (
            base.status == "success"
            and cand.status == "success"
            and base.log_file
            and cand.log_file
        ):
            pairs.append((side(base, cand), side(cand, base)))
        else:
            skipped.append(f"{cand_point.describe()} vs {base_point.describe()}")

    gates = config.check if config.check.gates else None
    outcomes = recorder.compare(pairs, config, gates, sweep)

    out("")
    out(
        points_table(
            runs, {run.eval_id: task_runs.get(run.eval_id or "") for run in runs if run.eval_id}
        )
    )
    for run in failed:
        out(f"! {run.point.describe()}: {run.status}" + (f": {run.error}" if run.error else ""))
    if outcomes:
        out("")
        out(comparison_table(outcomes))
    for text in skipped:
        out(f"! comparison skipped (an eval did not succeed): {text}")
    for outcome in outcomes:
        if outcome.error:
            out(f"! comparison {outcome.label} failed: {outcome.error}")
            code = EXIT_FAILED
        for problem in outcome.problems:
            out(f"! comparison {outcome.label}: {problem}")
    lines = gate_lines(outcomes)
    if lines:
        out("")
        out("\n".join(lines))
    write_reports(outcomes, config.check, out, title=f"inspect-mlflow checks: {sweep}")
    if config.check.gates and not outcomes and not config.dry_run:
        out("! check: no comparisons were made, so no gate was evaluated (see compare.baseline)")
    if any(gate.fails_check for outcome in outcomes for gate in outcome.gates):
        code = EXIT_FAILED
    return code, outcomes


def sweep_end_values(
    runs: Sequence[PointRun], outcomes: Sequence[ComparisonOutcome]
) -> tuple[dict[str, float], dict[str, str]]:
    """Metrics and tags the sweep run ends with: counts of points, comparisons and gates."""
    from inspect_mlflow._orchestrator._checks import verdict

    gates = [gate for outcome in outcomes for gate in outcome.gates]
    metrics = {
        "sweep/points": float(len(runs)),
        "sweep/failed_points": float(sum(run.status != "success" for run in runs)),
        "sweep/comparisons": float(sum(outcome.compared for outcome in outcomes)),
    }
    tags: dict[str, str] = {}
    if gates:
        for status in ("PASS", "FAIL", "INCONCLUSIVE"):
            metrics[f"check/{status.lower()}"] = float(sum(g.status == status for g in gates))
        tags["inspect_mlflow.check_verdict"] = verdict(gates) or ""
    return metrics, tags
