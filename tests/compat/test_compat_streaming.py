"""`Streaming` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is
there, takes the documented arguments (the appendix's examples run as written) and returns the
documented values; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime


def test_create_and_yield_are_functions(lua: ScriptRuntime) -> None:
    assert run(lua, "return type(Streaming.create), type(Streaming.yield)") == [
        "function",
        "function",
    ]


def test_the_appendix_stream_gives_its_values_next_isdone_collect(lua: ScriptRuntime) -> None:
    first, done_before, rest, done_after = run(
        lua,
        """
        local stream = Streaming.create(function()
            for i = 1, 10 do
                coroutine.yield(i * 2)
            end
        end)
        local value = stream:next()
        local done_before = stream:isDone()
        local all_values = stream:collect()
        return value, done_before, all_values, stream:isDone()
        """,
    )
    assert (first, done_before, done_after) == (2, False, True)
    assert rest == [4, 6, 8, 10, 12, 14, 16, 18, 20]


def test_streaming_yield_yields_a_value_in_the_producer(lua: ScriptRuntime) -> None:
    values = run(
        lua,
        """
        local stream = Streaming.create(function()
            for i = 1, 3 do
                local computed_value = i * i
                Streaming.yield(computed_value)
            end
        end)
        return stream:collect()
        """,
    )
    assert values == [1, 4, 9]


def test_streaming_yield_outside_a_coroutine_says_where_it_works(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, "Streaming.yield(1)")
    assert "Streaming.yield: only inside a Streaming.create producer" in info.value.evalue
