"""``python -m inspect_mlflow``: the orchestrator (Hydra app) and its sub-commands.

Sub-commands are dispatched before Hydra sees the command line, so ``compare`` / ``check`` /
``log`` / ``replay`` keep ordinary argparse interfaces while everything else is a Hydra
override list.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("inspect_mlflow.comparison._cli", "compare two eval logs"),
    "check": ("inspect_mlflow._orchestrator._check_cli", "run regression checks"),
    "log": ("inspect_mlflow._backfill", "log existing .eval logs to MLflow"),
    "replay": ("inspect_mlflow._sink._replay", "replay records spooled while MLflow was down"),
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in _SUBCOMMANDS:
        module = import_module(_SUBCOMMANDS[args[0]][0])
        command: Callable[[list[str]], int] = module.main
        return command(args[1:])
    from inspect_mlflow._orchestrator._app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
