"""Globals built on first use (runtime/api/catalog.py): a fresh runtime has built none of them,
yet every way a script or a front end can reach one sees it whole — reads, pairs, raw reads,
setmetatable, id-string methods, completion, inspection, help, display."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import llmspell.runtime.api.catalog as catalog_module
from llmspell.runtime import ScriptRuntime
from llmspell.runtime.api import ApiContext, build_globals
from llmspell.runtime.api.catalog import catalog, catalog_file, discover
from llmspell.runtime.results import CapturingSink, ExecutionResult

UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


def built(rt: ScriptRuntime) -> list[str]:
    """The globals the runtime has built so far."""
    return rt._globals.built()


def test_a_fresh_runtime_builds_no_global_until_a_script_touches_one(lua: ScriptRuntime) -> None:
    assert lua.execute("print(1)").stdout == "1\n"
    assert built(lua) == []
    assert lua.execute("return State.save ~= nil, tostring(JSON), type(Tool)").value == [
        True,
        "<JSON API>",
        "table",
    ]
    assert built(lua) == ["State"]  # tostring and type build nothing


def test_pairs_and_raw_reads_see_a_global_whole_before_its_first_use(
    make_runtime: object,
) -> None:
    for code in (
        "local n = 0; for k in pairs(State) do n = n + 1 end; return n > 3",
        'return type(rawget(State, "save")) == "function"',
        "return next(State) ~= nil",
        'return rawget(_G, "State") == State and rawget(_G, "help") == help',
    ):
        rt = make_runtime()  # type: ignore[operator]
        assert rt.execute(code).value is True, code


def test_pairs_of_the_global_table_lists_every_global(lua: ScriptRuntime) -> None:
    names = lua.execute("local t = {}; for k, v in pairs(_G) do t[#t + 1] = k end; return t").value
    assert {"State", "Session", "RAG", "Agent", "Tool", "Workflow", "help", "display"} <= set(names)


def test_a_field_a_script_set_before_the_first_use_stays_the_scripts(lua: ScriptRuntime) -> None:
    value = lua.execute('State.save = "mine"; return State.save, type(State.load)').value
    assert value == ["mine", "function"]


def test_a_global_filled_late_keeps_its_lua_members(lua: ScriptRuntime) -> None:
    # Debug.stackTrace reads Lua's own stack, in place of the host function of that name
    frames = lua.execute("return Debug.stackTrace().frames").value
    assert [f["what"] for f in frames] == ["main"]
    assert lua.execute("return type(Streaming.yield)").value == "function"


def test_a_metatable_set_on_a_global_or_on_the_global_table_keeps_the_globals(
    lua: ScriptRuntime,
) -> None:
    strict = (
        "setmetatable(_G, {__index = function(_, k) error('undeclared ' .. k, 2) end}); "
        "setmetatable(Tool, {}); "
        "return type(Tool.list), type(State.save), pcall(function() return nope end)"
    )
    has_list, has_save, ok, message = lua.execute(strict).value
    assert (has_list, has_save, ok) == ("function", "function", False)
    assert "undeclared nope" in message


def test_id_string_methods_work_before_the_session_global_is_touched(lua: ScriptRuntime) -> None:
    ok, message = lua.execute(
        f'local id = "{UNKNOWN_SESSION}"; return pcall(function() return id:get_name() end)'
    ).value
    assert ok is False
    assert message.startswith("session:get_name:") and "no session" in message, message
    made = lua.execute('local id = Session.create({name = "n"}); return id:get_name()')
    assert made.value == "n"


def test_completion_inspection_and_help_see_unbuilt_globals(
    make_runtime: object,
) -> None:
    fresh = make_runtime  # a fresh runtime for each, so each one meets an unbuilt global
    assert fresh().complete("State.sa").matches == ["State.save"]  # type: ignore[operator]
    assert fresh().complete("Sess").matches == ["Session"]  # type: ignore[operator]
    inspected = fresh().inspect("State.load")  # type: ignore[operator]
    assert inspected is not None and "State.load(scope, key)" in inspected["text/plain"]
    page = fresh().execute("help(State)").pages[0]  # type: ignore[operator]
    assert "State.save(scope, key, value)" in page
    shown = fresh().execute("?Tool.list").pages[0]  # type: ignore[operator]
    assert shown.startswith("Tool.list(")
    value = fresh().execute("return State")  # type: ignore[operator]
    assert value.bundle["text/plain"] == "<State API>"


def test_a_global_shown_or_passed_to_the_host_before_its_first_use(lua: ScriptRuntime) -> None:
    shown = lua.execute("display(Tool)").displays[0]
    assert shown["text/plain"] == "<Tool API>"
    assert built(lua) == ["Tool", "display"]  # the host got the namespace behind the proxy


def test_every_id_method_name_a_global_declares_is_one_it_offers(lua: ScriptRuntime) -> None:
    sink = CapturingSink(ExecutionResult())
    globals_ = build_globals(ApiContext(lua.config, lua.infrastructure, sink))
    for entry in catalog().entries:
        if not entry.function:
            assert sorted(globals_[entry.name]._id_methods()) == sorted(entry.id_methods)


def test_the_python_engine_sees_every_global(py: ScriptRuntime) -> None:
    assert py.execute("State.save('global', 'k', 2); State.load('global', 'k')").value == 2
    assert py.execute("callable(help) and callable(display)").value is True


# --- the catalog ------------------------------------------------------------------------------


def test_the_cached_catalog_is_the_discovered_one(isolated_env: Path) -> None:
    assert not catalog_file().exists()
    first = catalog()
    assert catalog_file().exists()
    assert catalog() == first == discover()
    names = {e.name for e in first.entries}
    assert {"State", "Session", "help", "display"} <= names
    # the modules that register a renderer: an `*_api` module, or where the renderer lives
    assert {
        "llmspell.runtime.api.session_api",
        "llmspell.runtime.api.rag_api",
        "llmspell.runtime.agents.rendering",
        "llmspell.runtime.workflows.rendering",
    } <= set(first.renderer_modules)


@pytest.mark.parametrize(
    "damage",
    [
        "{not json",
        "[]",
        '{"key": "other", "entries": []}',
        "same key, entries not a list",
        "same key, a module outside the package",
    ],
)
def test_a_corrupt_or_stale_catalog_is_found_again_and_rewritten(
    isolated_env: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = catalog()
    data = json.loads(catalog_file().read_text())
    if damage == "same key, entries not a list":
        data["entries"] = "State"
        text = json.dumps(data)
    elif damage == "same key, a module outside the package":
        data["entries"][0]["module"] = "os"
        text = json.dumps(data)
    else:
        text = damage
    catalog_file().write_text(text)
    assert catalog() == good
    monkeypatch.setattr(catalog_module, "discover", _no_discovery)
    assert catalog() == good  # rewritten: read from the cache now


def _no_discovery() -> None:
    raise AssertionError("discovered again: the catalog was not rewritten")


def test_an_unwritable_cache_dir_still_gives_the_catalog(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = isolated_env / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert catalog() == discover()


def test_a_value_a_lazy_modules_renderer_draws_is_drawn_in_a_fresh_process(
    isolated_env: Path,
) -> None:
    # a session record shown before anything imported the Session global's module
    code = (
        "import sys\n"
        "from llmspell.runtime.api.catalog import catalog\n"
        "from llmspell.runtime.display import data_bundle\n"
        "catalog()\n"
        "assert 'llmspell.runtime.api.session_api' not in sys.modules\n"
        "record = {'id': 'x', 'status': 'active', 'artifact_count': 0, 'created_at': 't'}\n"
        "print('text/html' in data_bundle(record, 'x'))\n"
    )
    catalog()  # discovered (importing every module) and cached here; read from the cache there
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "True\n"), proc.stderr
