"""Helpers for runtime tests: memory-profile configs, and calling API functions through an
engine's own syntax (Lua constructors or Python literals) so one test covers both engines."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from llmspell.runtime import LLMSpellConfig, ScriptError, ScriptRuntime, load_config
from llmspell.runtime.config import with_overrides

MakeRuntime = Callable[..., ScriptRuntime]  # the `make_runtime` fixture (conftest.py)


def memory_config(overrides: dict[str, Any] | None = None) -> LLMSpellConfig:
    """The `memory` profile with dotted-key overrides, nothing else."""
    config = load_config(profile="memory", env={}).config
    return with_overrides(config, overrides) if overrides else config


def lua_literal(value: Any) -> str:
    """A Lua constructor for a JSON-like Python value."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "(0/0)"
        if abs(value) == float("inf"):
            return "math.huge" if value > 0 else "-math.huge"
        return repr(value)
    if isinstance(value, str):
        return lua_string(value)
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    if isinstance(value, dict):
        items = ", ".join(f"[{lua_string(str(k))}] = {lua_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def lua_string(text: str) -> str:
    """A Lua string literal for any text (every byte outside printable ASCII escaped)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '\\"' or byte < 32 or byte > 126:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def literal(engine: str, value: Any) -> str:
    return lua_literal(value) if engine == "lua" else repr(value)


def call(runtime: ScriptRuntime, function: str, *args: Any) -> Any:
    """Call an API function through the runtime's engine with literal arguments; its result."""
    arglist = ", ".join(literal(runtime.engine_name, a) for a in args)
    prefix = "return " if runtime.engine_name == "lua" else ""
    return runtime.execute(f"{prefix}{function}({arglist})").value


def call_error(runtime: ScriptRuntime, function: str, *args: Any) -> ScriptError:
    """The ScriptError an API call raises (fails the test when it does not raise)."""
    with pytest.raises(ScriptError) as info:
        call(runtime, function, *args)
    return info.value


def error_of(runtime: ScriptRuntime, code: str, **kwargs: Any) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        runtime.execute(code, **kwargs)
    return info.value


def as_list(value: Any) -> list[Any]:
    """An API list as Python sees it: an empty Lua table comes back as `{}` (spec: conversion)."""
    return [] if value == {} else value


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
