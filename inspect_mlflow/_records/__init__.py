"""Pure mapping from Inspect objects to MLflow records (no MLflow import here)."""
