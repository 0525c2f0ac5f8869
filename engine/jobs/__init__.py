"""Heartbeat jobs: a scheduler and the jobs it runs (janitor, channel summaries, ...)."""
