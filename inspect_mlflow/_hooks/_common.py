"""What the tracking and tracing hooks share: settings checks and run status."""

from __future__ import annotations

import asyncio
import logging

from inspect_mlflow._settings import (
    Settings,
    SettingsError,
    current_settings,
    hooks_switched_on,
)

logger = logging.getLogger("inspect_mlflow")


def switched_on() -> tuple[bool, bool]:
    """(tracking on, tracing on), cheaply; a bad environment variable stops the eval."""
    try:
        return hooks_switched_on()
    except SettingsError as ex:
        from inspect_ai._util.error import PrerequisiteError

        raise PrerequisiteError(str(ex)) from None


def settings_or_raise() -> Settings:
    """Current settings; a bad environment variable stops the eval before it starts."""
    try:
        return current_settings()
    except SettingsError as ex:
        from inspect_ai._util.error import PrerequisiteError

        raise PrerequisiteError(str(ex)) from None


def status_for(log_status: str | None, exception: BaseException | None = None) -> str:
    """MLflow run status for an Inspect log status (or the exception that ended the run)."""
    if exception is not None:
        cancelled = isinstance(exception, (KeyboardInterrupt, asyncio.CancelledError))
        return "KILLED" if cancelled else "FAILED"
    return {"success": "FINISHED", "cancelled": "KILLED", "error": "FAILED"}.get(
        log_status or "", "FAILED"
    )


def experiment_tags(settings: Settings) -> dict[str, str]:
    """Tags the hooks set on their experiment.

    With tracing on, the experiment is marked as a GenAI experiment, so that MLflow's UI lists
    task runs under "Evaluation runs" with their traces and assessment columns.
    """
    return {"mlflow.experimentKind": "genai_development"} if settings.tracing else {}
