"""``python -m inspect_mlflow replay SPOOL_FILE``: write records kept while MLflow was down."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def replay(path: str | Path, tracking_uri: str | None = None) -> list[str]:
    """Apply a spool file's records in order; returns the problems met (empty when all landed).

    Records that still cannot be written go to a new spool file named in the problems.
    """
    from inspect_mlflow._sink._spool import Spool, read_spool
    from inspect_mlflow._sink._writer import Writer

    spooled_uri, ops = read_spool(path)
    uri = tracking_uri or spooled_uri
    writer = Writer(uri, spool=Spool(Path(path).parent, uri))
    try:
        writer.apply(ops)
        return writer.take_problems()
    finally:
        writer.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inspect_mlflow replay",
        description="Write records that were spooled because MLflow was unavailable.",
    )
    parser.add_argument("spool", help="spool file (.jsonl) named in the warning")
    parser.add_argument("--tracking-uri", help="write to this URI instead of the original one")
    args = parser.parse_args(argv)
    if not Path(args.spool).is_file():
        print(f"inspect_mlflow replay: no spool file at {args.spool}", file=sys.stderr)
        return 2
    try:
        problems = replay(args.spool, args.tracking_uri)
    except ValueError as ex:
        print(f"inspect_mlflow replay: {args.spool} is not a spool file ({ex})", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"inspect_mlflow replay: {problem}", file=sys.stderr)
    if not problems:
        print(f"replayed {args.spool}")
    return 1 if problems else 0
