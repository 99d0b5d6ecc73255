"""Helpers of the storage suites."""

from __future__ import annotations

from llmspell.storage import registry


def component_params() -> list[str]:
    """What `component` is parametrized over: every component the registry knows."""
    return registry.component_names()
