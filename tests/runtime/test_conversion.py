"""Lua <-> Python value conversion (spec: architecture.md, Value conversion), property-tested."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_helpers import error_of, lua_literal, lua_string

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.engines.lua import LuaEngine
from llmspell.runtime.engines.lua.conversion import LuaConversion
from llmspell.runtime.engines.lua.introspection import KEYWORDS

# The runtime fixture is shared by every example of a test; that is intended.
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
# Lua has no null inside tables (a nil value is an absent key) and an empty table reads back
# as `{}`: containers hold non-null values and lists are non-empty.
data = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=5),
        st.dictionaries(text, inner, max_size=5),
    ),
    max_leaves=20,
)
# keys that Lua cannot confuse with array positions, usable as `name = value` (not keywords)
word_keys = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda key: key not in KEYWORDS
)


def lua_conversion(rt: ScriptRuntime) -> LuaConversion:
    engine = rt._engine
    assert isinstance(engine, LuaEngine)
    return engine.conversion


@PROPERTY
@given(value=st.one_of(st.none(), data))
def test_json_parse_in_lua_gives_back_the_same_python_value(lua: ScriptRuntime, value: Any) -> None:
    source = json.dumps(value)
    assert lua.execute(f"return JSON.parse({lua_string(source)})").value == value


@PROPERTY
@given(value=data)
def test_lua_constructors_convert_to_the_same_python_value(lua: ScriptRuntime, value: Any) -> None:
    assert lua.execute(f"return {lua_literal(value)}").value == value


@PROPERTY
@given(value=data)
def test_to_lua_and_back_is_the_identity_on_data(lua: ScriptRuntime, value: Any) -> None:
    conversion = lua_conversion(lua)
    assert conversion.to_python(conversion.to_lua(value)) == value


@PROPERTY
@given(value=data)
def test_stringify_of_parse_is_canonical_json(lua: ScriptRuntime, value: Any) -> None:
    source = json.dumps(value)
    result = lua.execute(f"return JSON.stringify(JSON.parse({lua_string(source)}))").value
    assert result == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@PROPERTY
@given(
    items=st.lists(scalars, min_size=1, max_size=5),
    named=st.dictionaries(word_keys, scalars, min_size=1, max_size=5),
)
def test_mixed_tables_keep_every_key(
    lua: ScriptRuntime, items: list[Any], named: dict[str, Any]
) -> None:
    fields = [lua_literal(v) for v in items] + [f"{k} = {lua_literal(v)}" for k, v in named.items()]
    expected = {str(i): v for i, v in enumerate(items, start=1)} | named
    constructor = "{" + ", ".join(fields) + "}"
    assert lua.execute(f"return {constructor}").value == expected
    stringified = lua.execute(f"return JSON.stringify({constructor})").value
    assert json.loads(stringified) == expected


def test_the_spec_example_of_a_mixed_table(lua: ScriptRuntime) -> None:
    assert lua.execute("return {1, 2, x = 3}").value == {"1": 1, "2": 2, "x": 3}
    assert lua.execute("return JSON.stringify({1, 2, x = 3})").value == '{"1":1,"2":2,"x":3}'


def test_tables_with_gaps_become_objects_keyed_by_position(lua: ScriptRuntime) -> None:
    assert lua.execute("return {[1] = 'a', [3] = 'c'}").value == {"1": "a", "3": "c"}
    assert lua.execute("return {[0] = 'z', 'a'}").value == {"0": "z", "1": "a"}


def test_empty_table_is_an_empty_object(lua: ScriptRuntime) -> None:
    assert lua.execute("return {}").value == {}
    assert lua.execute("return JSON.stringify({})").value == "{}"
    assert lua.execute("return JSON.stringify({1, 2})").value == "[1,2]"
    conversion = lua_conversion(lua)
    assert conversion.to_python(conversion.to_lua([])) == {}


def test_keys_that_collide_as_text_are_an_error_not_a_silent_loss(lua: ScriptRuntime) -> None:
    err = error_of(lua, "return JSON.stringify({[1] = 'a', ['1'] = 'b', x = 1})")
    assert err.evalue.startswith("JSON.stringify: ")
    assert "'1'" in err.evalue


def test_integers_beyond_64_bits_arrive_as_floats(lua: ScriptRuntime) -> None:
    result = lua.execute("return JSON.parse('123456789012345678901234567890')")
    assert result.value == pytest.approx(1.2345678901234568e29)
    assert lua.execute("return math.type(JSON.parse('9223372036854775807'))").value == "integer"


def test_binary_strings_arrive_as_bytes_and_are_not_json(lua: ScriptRuntime) -> None:
    assert lua.execute("return '\\255\\000\\1'").value == b"\xff\x00\x01"
    err = error_of(lua, "return JSON.stringify({blob = '\\255'})")
    assert (
        err.evalue == "JSON.stringify: value.blob is binary data, which cannot be stored as a value"
    )


@pytest.mark.parametrize(
    ("code", "where"),
    [
        ("JSON.stringify(print)", "value"),
        ("JSON.stringify({a = {1, print}})", "value.a[2]"),
        ("State.save('g', 'k', {f = function() end})", "value.f"),
        ("State.save('g', 'k', coroutine.create(function() end))", "value"),
    ],
)
def test_functions_where_data_is_expected_raise_naming_the_argument(
    lua: ScriptRuntime, code: str, where: str
) -> None:
    err = error_of(lua, code)
    function = code.split("(", 1)[0]
    assert err.ename == "ValidationError"
    assert err.evalue.startswith(f"{function}: {where} must be data")


def test_python_engine_rejects_functions_naming_the_argument(py: ScriptRuntime) -> None:
    err = error_of(py, "JSON.stringify({'a': [1, print]})")
    assert err.evalue.startswith("JSON.stringify: value.a[2] must be data")


@pytest.mark.parametrize("function", ["JSON.stringify(t)", "State.save('global', 'k', t)"])
def test_a_cyclic_lua_table_is_a_validation_error(lua: ScriptRuntime, function: str) -> None:
    err = error_of(lua, f"local t = {{1, {{}}}}\nt[2].back = t\n{function}")
    assert err.ename == "ValidationError"
    assert err.evalue.endswith(
        ": a table contains itself (a cycle); only tree-shaped tables are data"
    )


def test_a_deep_but_acyclic_lua_table_says_it_is_too_deep(lua: ScriptRuntime) -> None:
    err = error_of(lua, "local t = {}\nfor i = 1, 300 do t = {t} end\nJSON.stringify(t)")
    assert (err.ename, err.evalue) == (
        "ValidationError",
        "JSON.stringify: tables are nested deeper than 200 levels",
    )


def test_a_cyclic_python_value_is_a_validation_error(py: ScriptRuntime) -> None:
    err = error_of(py, "a = [1, {}]\na[1]['back'] = a\nState.save('global', 'k', a)")
    assert (err.ename, err.evalue) == (
        "ValidationError",
        "State.save: value[2].back refers back to a table that contains it (a cycle); "
        "only tree-shaped values are data",
    )


def test_nan_is_not_data(lua: ScriptRuntime) -> None:
    err = error_of(lua, "JSON.stringify({x = 0/0})")
    assert err.evalue == "JSON.stringify: value.x must be a finite number, got nan"


def test_binary_table_keys_are_an_error_naming_the_key_not_replacement_characters(
    lua: ScriptRuntime,
) -> None:
    err = error_of(lua, "State.save('g', 'k', {['ok'] = 1, ['\\255\\254'] = 2})")
    assert err.ename == "ValidationError"
    assert err.evalue.startswith("State.save: table key")
    assert "b'\\xff\\xfe'" in err.evalue
    assert lua.execute("return State.exists('g', 'k')").value is False
