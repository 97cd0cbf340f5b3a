"""Entry-point target (group ``inspect_ai``): registers the hooks, the simulated model and tasks.

Inspect imports this module at start-up whenever the package is installed, so it imports
nothing heavy: MLflow is loaded only by the writer process, and only when the hooks are on.
"""

from __future__ import annotations

from inspect_ai.hooks import hooks
from inspect_ai.model import ModelAPI, modelapi

from inspect_mlflow import _tasks  # noqa: F401  (registers the example tasks)
from inspect_mlflow._hooks._tracing import MlflowTracingHooks
from inspect_mlflow._hooks._tracking import MlflowTrackingHooks

hooks(
    name="mlflow_tracking",
    description="Logs Inspect tasks to MLflow as runs with params, metrics and tables.",
)(MlflowTrackingHooks)
hooks(
    name="mlflow_tracing",
    description="Logs each Inspect sample to MLflow as a trace, with its scores as assessments.",
)(MlflowTracingHooks)


@modelapi(name="simulated")
def simulated() -> type[ModelAPI]:
    from inspect_mlflow._simulated._provider import SimulatedModel

    return SimulatedModel
