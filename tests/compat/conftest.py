"""The runtime every compatibility test file uses: Lua on in-memory storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmspell.runtime import ScriptRuntime, load_config


@pytest.fixture
def lua(isolated_env: Path) -> Iterator[ScriptRuntime]:
    """A Lua runtime on the memory profile (files go to `isolated_env`)."""
    rt = ScriptRuntime.with_engine(load_config(profile="memory", env={}).config, "lua")
    try:
        yield rt
    finally:
        rt.close()
