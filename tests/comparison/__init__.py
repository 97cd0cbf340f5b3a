"""Tests of inspect_mlflow.comparison."""
