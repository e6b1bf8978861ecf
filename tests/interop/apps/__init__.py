"""Agents that exist only for tests (the second agent of a two-agent deployment)."""
