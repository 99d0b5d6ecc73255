"""Fixtures for runtime tests: an isolated environment and memory-profile runtimes of either
engine (helpers to drive them are in runtime_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, memory_config

from llmspell.runtime import ScriptRuntime


@pytest.fixture(autouse=True)
def _isolated(isolated_env: Path) -> Path:
    """Every test here runs in the isolated environment of the root conftest."""
    return isolated_env


@pytest.fixture
def make_runtime() -> Iterator[MakeRuntime]:
    """`make_runtime(engine="lua", **dotted_overrides)`; every runtime is closed afterwards.
    Overrides use `__` for dots: `make_runtime(engines__lua__timeout_s=0.3)`."""
    made: list[ScriptRuntime] = []

    def make(engine: str = "lua", **overrides: Any) -> ScriptRuntime:
        dotted = {k.replace("__", "."): v for k, v in overrides.items()}
        rt = ScriptRuntime.with_engine(memory_config(dotted), engine)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


@pytest.fixture
def lua(make_runtime: MakeRuntime) -> ScriptRuntime:
    return make_runtime("lua")


@pytest.fixture
def py(make_runtime: MakeRuntime) -> ScriptRuntime:
    return make_runtime("python")


@pytest.fixture(params=["lua", "python"])
def rt(request: pytest.FixtureRequest, make_runtime: MakeRuntime) -> ScriptRuntime:
    """A runtime of each engine (tests using it run twice)."""
    return make_runtime(request.param)


@pytest.fixture(params=["lua", "python"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each engine's name in turn, for tests that build runtimes with `make_runtime`."""
    return str(request.param)
