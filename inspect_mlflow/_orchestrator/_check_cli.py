"""``python -m inspect_mlflow check BASELINE CANDIDATE --spec FILE``: regression gates, no evals.

Each side is a log file or an MLflow task run (``mlflow-run:RUN_ID``, or ``mlflow:FILTER``
for the most recent matching run). Exit codes: 0 every gate passed, 1 a gate failed (or was
INCONCLUSIVE under ``on_inconclusive: fail``), 2 usage or configuration error (including
two logs without samples in common).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from inspect_mlflow._orchestrator._errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inspect_mlflow check",
        description=(
            "Apply the regression gates of a YAML spec to a baseline and a candidate eval "
            "(log files or MLflow task runs), without running anything."
        ),
        epilog=(
            "Sides: PATH (.eval/.json log), mlflow-run:RUN_ID, or mlflow:FILTER (the latest task "
            "run matching an MLflow filter string, e.g. \"mlflow:tags.`mlflow.source.git.branch` = 'main'\"). "
            "Exit codes: 0 pass, 1 a gate failed, 2 usage or configuration error."
        ),
    )
    parser.add_argument("baseline", help="baseline: log path or MLflow selector")
    parser.add_argument("candidate", help="candidate: log path or MLflow selector")
    parser.add_argument(
        "--spec", required=True, help="YAML check spec (a `gates:` list; see conf/check/)"
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("INSPECT_MLFLOW_TRACKING_URI")
        or os.environ.get("MLFLOW_TRACKING_URI"),
        help="MLflow tracking URI for mlflow selectors (default: $MLFLOW_TRACKING_URI)",
    )
    parser.add_argument(
        "--experiment",
        default=os.environ.get("MLFLOW_EXPERIMENT_NAME", "inspect_ai"),
        help="experiment searched by mlflow:FILTER (default: $MLFLOW_EXPERIMENT_NAME or inspect_ai)",
    )
    parser.add_argument("--junit", help="write a JUnit XML report (overrides the spec's junit)")
    parser.add_argument(
        "--markdown", help="write a Markdown report (overrides the spec's markdown)"
    )
    parser.add_argument("--significance", type=float, help="level α (overrides the spec)")
    parser.add_argument(
        "--correction", choices=["holm", "bh", "none"], help="p-value correction across metrics"
    )
    parser.add_argument(
        "--scorer", action="append", dest="scorers", help="compare only this scorer (repeatable)"
    )
    parser.add_argument("--cluster", help="sample metadata key for clustered standard errors")
    parser.add_argument(
        "--allow-different-tasks", action="store_true", help="compare logs of different tasks"
    )
    return parser


def main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as ex:
        return EXIT_OK if ex.code in (0, None) else EXIT_USAGE
    try:
        return _check(args)
    except ConfigError as ex:
        print(f"inspect_mlflow check: error: {ex}", file=sys.stderr)
        return EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    import yaml

    from inspect_mlflow._orchestrator._comparisons import Side, compare_pairs
    from inspect_mlflow._orchestrator._report import comparison_table, gate_lines, write_reports
    from inspect_mlflow._orchestrator._schema import CompareSpec, validate_check_spec
    from inspect_mlflow._orchestrator._sources import resolve_side

    path = Path(args.spec)
    if not path.is_file():
        raise ConfigError(f"--spec: no file at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as ex:
        raise ConfigError(f"--spec {path}: not valid YAML: {ex}") from None
    spec = validate_check_spec(raw, f"check spec {path}")
    updates = {
        key: value
        for key, value in (
            ("junit", args.junit), ("markdown", args.markdown),
            ("significance", args.significance), ("correction", args.correction),
        )
        if value is not None
    }  # fmt: skip
    if updates:
        spec = validate_check_spec({**spec.model_dump(), **updates}, "command line")
    if not spec.gates:
        raise ConfigError(f"check spec {path}: `gates` is empty; add at least one gate")

    sides = [
        resolve_side(selector, role, args.tracking_uri, args.experiment)
        for selector, role in ((args.baseline, "baseline"), (args.candidate, "candidate"))
    ]
    for side in sides:
        if side.note:
            print(f"note: {side.note}")
    compare = CompareSpec(
        scorers=args.scorers,
        significance=spec.significance or 0.05,
        correction=spec.correction or "holm",
        cluster=args.cluster,
    )
    baseline, candidate = (
        Side(log=s.log, label=role, run_id=s.run_id, eval_id=s.eval_id, metrics=s.metrics)
        for s, role in zip(sides, ("baseline", "candidate"), strict=True)
    )
    outcomes = compare_pairs(
        [(baseline, candidate)], compare, spec, allow_different_tasks=args.allow_different_tasks
    )
    outcome = outcomes[0]
    if outcome.error or outcome.result is None:
        raise ConfigError(f"cannot compare {args.baseline} with {args.candidate}: {outcome.error}")
    print(outcome.result.summary())
    print()
    print(comparison_table(outcomes))
    print()
    print("\n".join(gate_lines(outcomes)))
    write_reports(outcomes, spec, print, title="inspect-mlflow check")
    failed = any(gate.fails_check for gate in outcome.gates)
    print(f"\nResult: {'FAIL' if failed else 'PASS'}")
    return EXIT_FAILED if failed else EXIT_OK
