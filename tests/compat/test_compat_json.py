"""`JSON` as the rs-llmspell v0.13.1 Lua API appendix documents it: `JSON.parse` and
`JSON.stringify` take the documented arguments (the appendix's examples run as written) and
give the documented values; see docs/reference/compatibility.md."""

from __future__ import annotations

import json

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime


def test_parse_example(lua: ScriptRuntime) -> None:
    out = lua.execute(
        """
        local data = JSON.parse('{"name": "Alice", "age": 30}')
        print(data.name)  -- "Alice"
        return {data, math.type(data.age)}
        """
    )
    assert out.stdout == "Alice\n"
    assert out.value == [{"name": "Alice", "age": 30}, "integer"]


def test_stringify_example(lua: ScriptRuntime) -> None:
    text = run(
        lua,
        """
        local json = JSON.stringify({
            name = "Bob",
            items = {1, 2, 3},
            active = true
        })
        return json
        """,
    )
    assert json.loads(text) == {"name": "Bob", "items": [1, 2, 3], "active": True}


def test_the_tool_pattern_round_trips_through_parse_and_stringify(lua: ScriptRuntime) -> None:
    # Example 1 of the appendix's custom-logic patterns: JSON.parse then JSON.stringify
    out = run(
        lua,
        """
        local raw_data = '{"b": [1, 2.5, "x"], "a": {"nested": false}}'
        local data = JSON.parse(raw_data)
        return JSON.stringify(data)
        """,
    )
    assert json.loads(out) == {"b": [1, 2.5, "x"], "a": {"nested": False}}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("[1, 2, 3]", [1, 2, 3]),
        ('"text"', "text"),
        ("42", 42),
        ("1.5", 1.5),
        ("true", True),
        ("null", None),
    ],
)
def test_parse_takes_any_json_value(lua: ScriptRuntime, text: str, value: object) -> None:
    assert run(lua, f"return JSON.parse('{text}')") == value


def test_invalid_json_is_an_error_with_its_position(lua: ScriptRuntime) -> None:
    with pytest.raises(
        ScriptError, match=r"JSON\.parse: Expecting ',' delimiter at line 1 column 9"
    ):
        run(lua, """return JSON.parse('{"a": 1 "b": 2}')""")


def test_stringify_of_a_function_is_an_error_naming_it(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError, match=r"JSON\.stringify: value"):
        run(lua, "return JSON.stringify({f = function() end})")


APPENDIX_FUNCTIONS = ["parse", "stringify"]


def test_every_appendix_function_is_there(lua: ScriptRuntime) -> None:
    names = ", ".join(f'"{n}"' for n in APPENDIX_FUNCTIONS)
    missing = run(
        lua,
        f"""
        local missing = {{}}
        for _, n in ipairs({{{names}}}) do
            if type(JSON[n]) ~= "function" then missing[#missing + 1] = n end
        end
        return missing
        """,
    )
    assert missing == {}
