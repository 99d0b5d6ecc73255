"""Fixtures for memory tests: a MemoryManager on the memory profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmspell.runtime.config import load_config, with_overrides
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.memory import MemoryManager


@pytest.fixture
def infra() -> Iterator[Infrastructure]:
    config = with_overrides(load_config(profile="memory", env={}).config, {})
    infrastructure = Infrastructure.from_config(config)
    yield infrastructure
    infrastructure.close()


@pytest.fixture
def memory(infra: Infrastructure) -> MemoryManager:
    return infra.get(MemoryManager)
