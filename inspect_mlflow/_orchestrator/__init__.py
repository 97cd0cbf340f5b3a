"""The orchestrator: Hydra-configured sweeps, comparisons written back to MLflow, YAML checks.

Entry point: ``python -m inspect_mlflow`` (:func:`inspect_mlflow._orchestrator._app.run_app`)
and ``python -m inspect_mlflow check`` (:mod:`inspect_mlflow._orchestrator._check_cli`).
Nothing here imports MLflow or Inspect at module level: ``--help`` and ``dry_run=true`` stay fast.
"""
