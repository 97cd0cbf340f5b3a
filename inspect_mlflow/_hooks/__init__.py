"""Inspect hooks: thin adapters that turn callbacks into records for the sink."""
