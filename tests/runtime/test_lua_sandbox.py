"""The safe Lua sandbox: what is gone, what stays, and that Python stays out of reach."""

from __future__ import annotations

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime

REMOVED_IN_SAFE_MODE = [
    "os.execute",
    "os.exit",
    "os.remove",
    "os.rename",
    "os.tmpname",
    "io.popen",
    "io.open",
    "io.lines",
    "package.loadlib",
    "dofile",
    "loadfile",
    "string.dump",
    "debug.sethook",
    "debug.getupvalue",
    "debug.getregistry",
    "python",
]


@pytest.mark.parametrize("name", REMOVED_IN_SAFE_MODE)
def test_safe_mode_removes_dangerous_functions(lua: ScriptRuntime, name: str) -> None:
    assert lua.execute(f"return {name} == nil").value is True


def test_safe_mode_keeps_harmless_library_functions(lua: ScriptRuntime) -> None:
    code = "return os.time() > 0, os.clock() >= 0, type(debug.traceback), string.upper('a')"
    assert lua.execute(code).value == [True, True, "function", "A"]


def test_load_refuses_binary_chunks(lua: ScriptRuntime) -> None:
    result = lua.execute("return load(string.char(27) .. 'LuaT\\0')")
    fn, message = result.value
    assert fn is None
    assert "binary chunk" in message


def test_load_refuses_binary_chunks_even_when_mode_asks_for_them(lua: ScriptRuntime) -> None:
    result = lua.execute("return load(string.char(27) .. 'LuaT', 'x', 'b')")
    assert result.value[0] is None


def test_load_still_compiles_text_chunks(lua: ScriptRuntime) -> None:
    assert lua.execute("return load('return 1 + 1')()").value == 2
    assert lua.execute("local env = {y = 5}; return load('return y', 'c', 't', env)()").value == 5


def test_require_cannot_load_c_modules(lua: ScriptRuntime) -> None:
    assert lua.execute("return package.cpath").value == ""
    err = error_of(lua, "require('socket.core')")
    assert "socket.core" in err.evalue


def test_trusted_mode_keeps_io_open_and_os_execute(make_runtime: MakeRuntime) -> None:
    trusted = make_runtime(engines__lua__security="trusted")
    code = "return type(io.open), type(os.execute), type(string.dump), type(debug.sethook)"
    assert trusted.execute(code).value == ["function"] * 4


def test_trusted_mode_still_has_no_python_global(make_runtime: MakeRuntime) -> None:
    trusted = make_runtime(engines__lua__security="trusted")
    assert trusted.execute("return python == nil").value is True


@pytest.mark.parametrize("attribute", ["__globals__", "__class__", "__dict__", "__call__"])
def test_python_attributes_of_host_objects_are_unreachable(
    make_runtime: MakeRuntime, attribute: str
) -> None:
    # The raw debug library (trusted mode) reaches the Python callable behind an API function.
    trusted = make_runtime(engines__lua__security="trusted")
    trusted.execute(
        "local i = 1\n"
        "while true do\n"
        "  local name, value = debug.getupvalue(State.save, i)\n"
        "  if name == nil then break end\n"
        "  if type(value) == 'userdata' then host_fn = value end\n"
        "  i = i + 1\n"
        "end"
    )
    assert trusted.execute("return host_fn ~= nil").value is True
    err = error_of(trusted, f"return host_fn.{attribute}")
    assert "cannot reach Python attributes" in err.evalue
    err = error_of(trusted, f"host_fn.{attribute} = 1")
    assert "cannot reach Python attributes" in err.evalue


def test_api_tables_expose_no_python_attributes(lua: ScriptRuntime) -> None:
    code = "return State.__globals__, State.__class__, State.save.__globals__"
    err = error_of(lua, code)
    assert "attempt to index a function value" in err.evalue
    assert lua.execute("return State.__dict__, State._ctx").value == [None, None]
