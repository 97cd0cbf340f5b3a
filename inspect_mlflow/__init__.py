"""inspect-mlflow: MLflow as the system of record for Inspect AI evaluations.

The public names are imported lazily, so that ``import inspect_mlflow`` (which Inspect does
through the entry point on every start-up) stays cheap and never loads MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from inspect_mlflow._settings import Settings, SettingsError, configure, current_settings

if TYPE_CHECKING:
    from inspect_mlflow._backfill import log_eval_log
    from inspect_mlflow._hooks._tracking import MlflowTrackingHooks
    from inspect_mlflow.comparison import (
        ComparisonError,
        ComparisonResult,
        MetricComparison,
        SampleComparison,
        compare_evals,
    )

__version__ = "0.9.0"

_LAZY: dict[str, str] = {
    "MlflowTrackingHooks": "inspect_mlflow._hooks._tracking",
    "MlflowTracingHooks": "inspect_mlflow._hooks._tracing",
    "log_eval_log": "inspect_mlflow._backfill",
    "compare_evals": "inspect_mlflow.comparison",
    "ComparisonResult": "inspect_mlflow.comparison",
    "MetricComparison": "inspect_mlflow.comparison",
    "SampleComparison": "inspect_mlflow.comparison",
    "ComparisonError": "inspect_mlflow.comparison",
}

__all__ = [
    "Settings",
    "SettingsError",
    "configure",
    "current_settings",
    "MlflowTrackingHooks",
    "MlflowTracingHooks",
    "log_eval_log",
    "compare_evals",
    "ComparisonResult",
    "MetricComparison",
    "SampleComparison",
    "ComparisonError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'inspect_mlflow' has no attribute {name!r}")
    return getattr(import_module(module), name)
