"""complete / inspect / is_complete at the runtime level, for both engines."""

from __future__ import annotations

import pytest

from llmspell.runtime import ScriptRuntime

# --- complete: Lua ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "matches"),
    [
        ("State.sa", ["State.save"]),
        ("string.up", ["string.upper"]),
        ("JSON.", ["JSON.null", "JSON.parse", "JSON.stringify"]),
        ("Sta", ["State"]),
        ("Strea", ["Streaming"]),
        ("Tenant.", ["Tenant.id"]),
        ("wh", ["while"]),
        ("ret", ["return"]),
        ("fun", ["function"]),
        ("nosuchname", []),
        ("nosuch.table", []),
    ],
)
def test_lua_completion_matches_exactly(lua: ScriptRuntime, code: str, matches: list[str]) -> None:
    completion = lua.complete(code)
    assert completion.matches == matches
    assert (completion.cursor_start, completion.cursor_end) == (0, len(code))


def test_lua_completion_starts_at_the_dotted_name(lua: ScriptRuntime) -> None:
    code = "local ok = State.sa"
    completion = lua.complete(code)
    assert completion.matches == ["State.save"]
    assert completion.cursor_start == code.index("State")


def test_lua_completion_uses_the_cursor_position(lua: ScriptRuntime) -> None:
    code = "x = string.up(s)"
    completion = lua.complete(code, code.index("(s)"))
    assert completion.matches == ["string.upper"]
    assert completion.cursor_end == code.index("(s)")


def test_lua_completion_sees_user_tables(lua: ScriptRuntime) -> None:
    lua.execute("config = {retries = 3, ratio = 0.5, name = 'x', nested = {deep = 1}}")
    assert lua.complete("config.r").matches == ["config.ratio", "config.retries"]
    assert lua.complete("config.nested.").matches == ["config.nested.deep"]
    assert lua.complete("conf").matches == ["config"]


def test_lua_method_completion_lists_functions_including_the_metatable_index(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        "Animal = {}\nAnimal.__index = Animal\n"
        "function Animal:speak() end\nfunction Animal:eat() end\n"
        "Dog = setmetatable({legs = 4}, {__index = Animal})\n"
        "function Dog:fetch() end\n"
        "rex = setmetatable({name = 'rex'}, {__index = Dog})"
    )
    assert lua.complete("rex:").matches == ["rex:eat", "rex:fetch", "rex:speak"]
    assert lua.complete("Animal.__").matches == ["Animal.__index"]
    assert lua.complete("rex:sp").matches == ["rex:speak"]
    assert lua.complete("rex.").matches == [
        "rex.eat",
        "rex.fetch",
        "rex.legs",
        "rex.name",
        "rex.speak",
    ]


def test_lua_method_completion_on_api_objects(lua: ScriptRuntime) -> None:
    lua.execute("t = Debug.timer('x')\ns = Streaming.create(function() end)")
    assert lua.complete("t:").matches == ["t:elapsed", "t:lap", "t:laps", "t:name", "t:stop"]
    assert lua.complete("s:").matches == ["s:collect", "s:isDone", "s:next"]


def test_lua_completion_of_a_non_table_is_empty(lua: ScriptRuntime) -> None:
    lua.execute("n = 5")
    assert lua.complete("n.").matches == []
    assert lua.complete("print.").matches == []


# --- complete: Python ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "matches"),
    [
        ("State.sa", ["State.save"]),
        ("JSON.", ["JSON.null", "JSON.parse", "JSON.stringify"]),
        ("Tenant.", ["Tenant.id"]),
        ("str.up", ["str.upper"]),
        ("Sta", ["State"]),
        ("whil", ["while"]),
        ("nosuchname", []),
    ],
)
def test_python_completion_matches_exactly(
    py: ScriptRuntime, code: str, matches: list[str]
) -> None:
    assert py.complete(code).matches == matches


def test_python_completion_sees_user_objects(py: ScriptRuntime) -> None:
    py.execute("class Dog:\n    def fetch(self): pass\n    def feed(self): pass\nmy_dog = Dog()")
    assert py.complete("my_dog.fe").matches == ["my_dog.feed", "my_dog.fetch"]
    assert py.complete("x = my_d").matches == ["my_dog"]
    assert py.complete("x = my_d").cursor_start == 4


# --- inspect ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", [2, 7, 10])
def test_inspect_shows_signature_and_doc_of_api_functions(rt: ScriptRuntime, cursor: int) -> None:
    code = "State.save('g', 'k', 1)"
    found = rt.inspect(code, cursor)
    assert found is not None
    assert found["text/plain"].startswith("State.save(scope, key, value)\n\n")
    assert "JSON-able" in found["text/plain"]


def test_inspect_of_a_namespace_lists_its_functions(rt: ScriptRuntime) -> None:
    found = rt.inspect("JSON")
    assert found is not None
    assert "JSON.parse(text, options?)" in found["text/plain"]
    assert "JSON.stringify(value, options?)" in found["text/plain"]


def test_inspect_of_a_method_call_finds_the_api_doc(lua: ScriptRuntime) -> None:
    lua.execute("t = Debug.timer('x')")
    found = lua.inspect("t:stop")
    assert found is not None
    assert found["text/plain"].startswith("Timer.stop()\n\nStop the timer")
    lua.execute("s = Streaming.create(function() end)")
    found = lua.inspect("s:collect")
    assert found is not None
    assert found["text/plain"].startswith("Stream.collect()\n\nAll remaining values")


def test_python_inspect_of_an_api_object_method(py: ScriptRuntime) -> None:
    py.execute("t = Debug.timer('x')")
    found = py.inspect("t.stop")
    assert found is not None
    assert found["text/plain"].startswith("Timer.stop()\n\nStop the timer")


def test_inspect_summarises_user_values(lua: ScriptRuntime, py: ScriptRuntime) -> None:
    lua.execute("items = {1, 2, 3}\nname = 'abc'")
    assert lua.inspect("items") == {
        "text/plain": "items\ntype: table, 3 entries\nvalue: {1, 2, 3}\n"
    }
    assert lua.inspect("name") == {"text/plain": 'name\ntype: string, 3 bytes\nvalue: "abc"\n'}
    py.execute("items = [1, 2, 3]")
    assert py.inspect("items") == {"text/plain": "type: list\nvalue: [1, 2, 3]\n"}


def test_inspect_of_nothing_known_is_none(rt: ScriptRuntime) -> None:
    assert rt.inspect("nothing_here") is None
    assert rt.inspect("   ", 1) is None


def test_inspect_of_api_functions_through_aliases(lua: ScriptRuntime) -> None:
    lua.execute("save = State.save")
    found = lua.inspect("save")
    assert found is not None
    assert found["text/plain"].startswith("State.save(scope, key, value)")


# --- is_complete --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "indent"),
    [
        ("for i = 1, 2 do", "incomplete", "  "),
        ("function f(a,", "incomplete", "  "),
        ("x = [[long\nstring", "incomplete", "  "),
        ("t = {", "incomplete", "  "),
        ("x = = 1", "invalid", ""),
        ("end", "invalid", ""),
        ("x = 1", "complete", ""),
        ("1 + 1", "complete", ""),
        ("for i = 1, 2 do\n  print(i)\nend", "complete", ""),
        ("?x", "complete", ""),
        ("State.save?", "complete", ""),
        ("", "complete", ""),
    ],
)
def test_lua_is_complete_tells_apart_incomplete_invalid_and_complete(
    lua: ScriptRuntime, code: str, status: str, indent: str
) -> None:
    check = lua.is_complete(code)
    assert (check.status, check.indent) == (status, indent)


@pytest.mark.parametrize(
    ("code", "status", "indent"),
    [
        ("for i in range(2):", "incomplete", "    "),
        ("def f(a,", "incomplete", "    "),
        ("x = = 1", "invalid", ""),
        ("x = 1", "complete", ""),
        ("?x", "complete", ""),
    ],
)
def test_python_is_complete_tells_apart_incomplete_invalid_and_complete(
    py: ScriptRuntime, code: str, status: str, indent: str
) -> None:
    check = py.is_complete(code)
    assert (check.status, check.indent) == (status, indent)


def test_is_complete_does_not_run_the_code(lua: ScriptRuntime) -> None:
    assert lua.is_complete("side_effect = 1").status == "complete"
    assert lua.execute("return side_effect").value is None


@pytest.mark.parametrize("cursor_pos", [-1, 4])
def test_a_cursor_outside_the_code_is_an_error(lua: ScriptRuntime, cursor_pos: int) -> None:
    with pytest.raises(ValueError, match="cursor_pos must be between 0 and len"):
        lua.complete("abc", cursor_pos)
    with pytest.raises(ValueError, match="cursor_pos must be between 0 and len"):
        lua.inspect("abc", cursor_pos)
