"""The MLflow writer: the only component that talks to MLflow on behalf of the hooks."""
