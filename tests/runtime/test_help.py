"""help() for what a newcomer types first: a name that does not exist is named as written, Lua's
standard library is documented, and the overview lists the script arguments."""

from __future__ import annotations

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.engines.lua.stdlib_docs import DOCS, LIBRARIES


def page_of(rt: ScriptRuntime, code: str) -> str:
    pages = rt.execute(code).pages
    assert len(pages) == 1, pages
    return pages[0]


# --- names that do not exist --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["help(State.nope)", "?State.nope", "help(\n  State.nope\n)"])
def test_help_of_a_missing_field_names_it_as_written(lua: ScriptRuntime, code: str) -> None:
    assert page_of(lua, code) == (
        "State.nope does not exist: State has no field 'nope'.\nhelp(State) shows what it has.\n"
    )


def test_help_of_a_missing_field_inside_a_function_quotes_that_function(
    lua: ScriptRuntime,
) -> None:
    lua.execute("function show() help(Config.nope) end", name="[cell 1]")
    assert page_of(lua, "show()").startswith("Config.nope does not exist: Config has no field")


def test_help_of_a_misspelt_name_suggests_the_close_ones(lua: ScriptRuntime) -> None:
    assert "Did you mean State.load?" in page_of(lua, "help(State.laod)")
    assert "Did you mean State?" in page_of(lua, "help(Stat)")


def test_help_of_an_undefined_global_says_it_is_not_defined(lua: ScriptRuntime) -> None:
    assert page_of(lua, "help(nothing_here)") == (
        "nothing_here does not exist: nothing_here is not defined.\nhelp() lists the globals.\n"
    )


def test_help_of_nil_is_not_the_overview(lua: ScriptRuntime) -> None:
    assert page_of(lua, "help(nil)").startswith("help: the argument is nil")
    assert page_of(lua, "help()").startswith("llmspell script globals")


def test_python_names_a_missing_api_field_in_the_scripts_terms(py: ScriptRuntime) -> None:
    err = error_of(py, "help(State.nope)")
    assert err.ename == "AttributeError"
    assert err.evalue.startswith("State.nope does not exist; State has: agent_get, ")
    assert page_of(py, "?State.nope").startswith("State.nope does not exist")


# --- Lua's standard library ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["help(print)", "?print", "help('print')"], ids=["call", "question", "string"]
)
def test_help_of_print_is_its_description(lua: ScriptRuntime, code: str) -> None:
    page = page_of(lua, code)
    assert page.startswith("print(...)\n\nWrites its arguments, separated by tabs")
    assert page.endswith("(Lua 5.4 standard library)\n")


def test_help_and_inspect_of_a_library_function(lua: ScriptRuntime) -> None:
    assert page_of(lua, "help(string.format)").startswith("string.format(formatstring, ...)")
    found = lua.inspect("string.format", 10)
    assert found is not None and found["text/plain"].startswith("string.format(formatstring")


def test_help_of_a_library_lists_its_functions(lua: ScriptRuntime) -> None:
    page = page_of(lua, "help(table)")
    assert page.startswith("table\n\nFunctions on tables used as lists.\n")
    assert "  table.insert(list, pos?, value)  Inserts value" in page


def test_only_what_the_sandbox_keeps_is_described(make_runtime: MakeRuntime) -> None:
    safe = make_runtime("lua", engines__lua__security="safe")
    trusted = make_runtime("lua", engines__lua__security="trusted")
    assert "os.execute" not in page_of(safe, "help(os)")
    assert "os.execute(command?)" in page_of(trusted, "help(os)")
    assert page_of(safe, "help(debug)").count("\n  debug.") == 1
    assert page_of(safe, "?io.open").startswith("io.open does not exist")


def test_a_users_own_print_is_not_described_as_luas(lua: ScriptRuntime) -> None:
    lua.execute("print = function() end")
    assert page_of(lua, "help(print)").startswith("type: function\n")


def test_every_standard_function_of_lua_54_is_described(make_runtime: MakeRuntime) -> None:
    trusted = make_runtime("lua", engines__lua__security="trusted")
    libraries = ", ".join(f'"{lib}"' for lib in LIBRARIES)
    code = f"""
    local names = {{}}
    for _, lib in ipairs({{{libraries}}}) do
      for k, v in pairs(_G[lib]) do
        if type(v) == "function" then names[#names + 1] = lib .. "." .. k end
      end
    end
    for k, v in pairs(_G) do
      if type(v) == "function" then names[#names + 1] = k end
    end
    return names
    """
    functions = set(trusted.execute(code).value)
    api = {"display", "help"}
    assert functions - api - set(DOCS) == set()


# --- the overview ---------------------------------------------------------------------------------


def test_the_overview_lists_the_script_arguments(rt: ScriptRuntime) -> None:
    page = page_of(rt, "help()")
    assert "\n  ARGS         Script arguments: ARGS[0] the script" in page
    assert "\n  arg          The positional script arguments only" in page
