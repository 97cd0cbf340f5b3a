"""``python -m inspect_mlflow compare BASELINE CANDIDATE [options]``.

Prints :meth:`ComparisonResult.summary`; ``--json`` and ``--plot`` write the full result and a
PNG. Exit codes: 0 compared, 1 a metric regressed (only with ``--fail-on-regression``),
2 bad input (one line on stderr naming the problem, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from inspect_mlflow.comparison._stats import CORRECTIONS
from inspect_mlflow.comparison._types import ComparisonError

PROG = "python -m inspect_mlflow compare"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Compare a candidate Inspect eval log with a baseline, with paired statistics.",
    )
    parser.add_argument("baseline", help="baseline .eval/.json log")
    parser.add_argument("candidate", help="candidate .eval/.json log")
    parser.add_argument(
        "--scorer",
        action="append",
        dest="scorers",
        metavar="S",
        help="scorer (or scorer/key) to compare; repeat for several (default: all)",
    )
    parser.add_argument("--json", metavar="F", help="write the full result as JSON to F")
    parser.add_argument("--plot", metavar="F", help="write a PNG of deltas with CIs to F")
    parser.add_argument(
        "--significance", type=float, default=0.05, metavar="A", help="test level (0.05)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        metavar="T",
        help="count a drop as a regression only when larger than T (0)",
    )
    parser.add_argument(
        "--correction",
        choices=CORRECTIONS,
        default="holm",
        help="multiple-comparison adjustment across metrics (holm)",
    )
    parser.add_argument("--cluster", metavar="KEY", help="sample metadata key for clustered SEs")
    parser.add_argument(
        "--method", choices=("auto", "t", "bootstrap"), default="auto", help="test (auto)"
    )
    parser.add_argument("--n-bootstrap", type=int, default=10_000, metavar="N")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    parser.add_argument(
        "--allow-different-tasks",
        action="store_true",
        help="compare logs of different tasks",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help="exit 1 when a metric regressed significantly",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run the command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as ex:
        print(f"{PROG}: error: {ex}", file=sys.stderr)
        return 2
    except SystemExit as ex:  # --help
        return int(ex.code or 0)

    from inspect_mlflow.comparison._compare import compare_evals

    try:
        result = compare_evals(
            args.baseline,
            args.candidate,
            scorers=args.scorers,
            significance=args.significance,
            regression_threshold=args.threshold,
            correction=args.correction,
            cluster=args.cluster,
            method=args.method,
            n_bootstrap=args.n_bootstrap,
            seed=args.seed,
            allow_different_tasks=args.allow_different_tasks,
        )
        if args.json:
            result.to_json(args.json)
        if args.plot:
            result.plot(args.plot)
    except ComparisonError as ex:
        print(f"{PROG}: error: {ex}", file=sys.stderr)
        return 2
    except OSError as ex:
        print(f"{PROG}: error: cannot write output: {ex}", file=sys.stderr)
        return 2
    print(result.summary())
    if args.json:
        print(f"\nWrote {args.json}")
    if args.plot:
        print(f"Wrote {args.plot}")
    if args.fail_on_regression and any(m.verdict == "regressed" for m in result.metrics):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
