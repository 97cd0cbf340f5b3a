"""``python -m inspect_mlflow [overrides]``: the Hydra application.

Hydra reads ``sys.argv``, so :func:`run_app` installs the arguments, calls the Hydra main
and returns the exit code the job (or the multirun callback) recorded: 0 success, 1 a check
or an eval failed, 2 bad configuration or usage (including every error Hydra reports itself,
such as an unknown key or config option).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from inspect_mlflow._conf import conf_dir
from inspect_mlflow._orchestrator._compose import check_command_line
from inspect_mlflow._orchestrator._errors import EXIT_OK, EXIT_USAGE, ConfigError
from inspect_mlflow._orchestrator._hydra_run import run_once
from inspect_mlflow._orchestrator._state import STATE

EXIT_INTERRUPTED = 130


def run_app(args: list[str]) -> int:
    """Run the orchestrator with Hydra command-line ``args``; returns the exit code."""
    STATE.reset()
    import hydra

    try:
        check_command_line(args)
    except ConfigError as ex:
        print(f"inspect_mlflow: error: {ex}", file=sys.stderr)
        return EXIT_USAGE
    main = hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(job)
    if _will_track(args):
        from inspect_mlflow._sink._sink import prestart_writer

        prestart_writer()  # the hooks' writer imports MLflow while Hydra composes
    saved = sys.argv
    sys.argv = ["inspect_mlflow", *args]
    try:
        if not run_once(args, str(conf_dir()), "config", job):
            main()
    except SystemExit as ex:
        if STATE.exit_code is None:  # Hydra stopped before our job ran (help, or a config error)
            return EXIT_OK if ex.code in (0, None) else EXIT_USAGE
    except KeyboardInterrupt:
        _interrupted()
        return EXIT_INTERRUPTED
    finally:
        sys.argv = saved
        _discard_prestarted()
    return EXIT_OK if STATE.exit_code is None else STATE.exit_code


_NO_RUN_FLAGS = {
    "-h", "--help", "--hydra-help", "--info", "-i", "--cfg", "-c", "--resolve",
    "--shell-completion", "-sc",
}  # fmt: skip


def _will_track(args: list[str]) -> bool:
    """Whether this command line will (most likely) write to MLflow from this process.

    A wrong guess costs only a writer process that exits without writing anything.
    """
    if any(arg in _NO_RUN_FLAGS for arg in args):
        return False
    lowered = [arg.lower().replace(" ", "") for arg in args]
    return not any(
        arg in ("dry_run=true", "mlflow=disabled", "mlflow.enabled=false") for arg in lowered
    )


def job(cfg: Any) -> None:
    """The Hydra task function (module level, so launchers can pickle it by reference)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from inspect_mlflow._orchestrator._driver import run_job

    code = run_job(cfg)
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        STATE.exit_code = code


def _discard_prestarted() -> None:
    if "inspect_mlflow._sink._sink" in sys.modules:
        from inspect_mlflow._sink._sink import discard_prestarted_writer

        discard_prestarted_writer()


def _interrupted() -> None:
    recorder = STATE.recorder
    if recorder is not None:
        with contextlib.suppress(Exception):
            recorder.end("KILLED")
        recorder.close()
        STATE.recorder = None
    print("inspect_mlflow: interrupted", file=sys.stderr)
