"""JSON, Config, Debug, Tenant, Display/display, Streaming and help through both engines, and
the documentation every API function carries."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fakes.connection_strings import FORMS, CredentialForm
from runtime_helpers import MakeRuntime, as_list, call, call_error, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.api import ApiContext, build_globals
from llmspell.runtime.api.base import ApiNamespace, public_functions, public_members, raw_of
from llmspell.runtime.api.streaming_api import Stream
from llmspell.runtime.results import CapturingSink, ExecutionResult
from llmspell.runtime.state import StateManager

ALWAYS_PRESENT = ["JSON", "State", "Config", "Debug", "Streaming", "Tenant", "Display"]
LEVELS = ["trace", "debug", "info", "warn", "error"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.mark.parametrize("name", [*ALWAYS_PRESENT, "display", "help"])
def test_every_engine_has_the_always_present_globals(rt: ScriptRuntime, name: str) -> None:
    check = f"return {name} ~= nil" if rt.engine_name == "lua" else f"{name} is not None"
    assert rt.execute(check).value is True


# --- JSON ---------------------------------------------------------------------------------------


def test_json_parse_maps_null_to_nil(lua: ScriptRuntime, py: ScriptRuntime) -> None:
    source = '{"a": null, "b": [1, 2]}'
    assert lua.execute(f"return JSON.parse('{source}').a == nil").value is True
    assert call(lua, "JSON.parse", source) == {"b": [1, 2]}
    assert call(py, "JSON.parse", source) == {"a": None, "b": [1, 2]}
    assert call(lua, "JSON.parse", "null") is None


def test_json_parse_of_an_array_with_null_leaves_a_hole_by_default(lua: ScriptRuntime) -> None:
    result = lua.execute('local t = JSON.parse("[1,null,3]") return t[1], t[2], t[3]')
    assert result.value == [1, None, 3]


def test_json_null_keeps_lua_arrays_their_length_and_round_trips(lua: ScriptRuntime) -> None:
    code = (
        'local t = JSON.parse("[1,null,3]", {keep_null = true})\n'
        "return #t, t[2] == JSON.null, JSON.stringify(t)"
    )
    assert lua.execute(code).value == [3, True, "[1,null,3]"]
    obj = lua.execute("return JSON.stringify(JSON.parse('{\"a\":null}', {keep_null = true}))")
    assert obj.value == '{"a":null}'


def test_json_null_shows_as_json_null(lua: ScriptRuntime, py: ScriptRuntime) -> None:
    assert lua.execute("return tostring(JSON.null)").value == "JSON.null"
    shown = lua.execute('JSON.parse("[1,null]", {keep_null = true})').bundle
    assert shown == {"text/plain": "{1, JSON.null}"}
    assert py.execute("JSON.parse('[1,null]', {'keep_null': True})").bundle["text/plain"] == (
        "[1, JSON.null]"
    )


@pytest.mark.parametrize(
    ("engine", "code"),
    [
        ("lua", "return JSON.stringify(JSON.parse(text, {keep_null = true}))"),
        ("python", "JSON.stringify(JSON.parse(text, {'keep_null': True}))"),
    ],
)
def test_json_null_round_trips_in_both_engines(
    make_runtime: MakeRuntime, engine: str, code: str
) -> None:
    rt = make_runtime(engine)
    rt.execute('text = \'{"a":[null,{"b":null}]}\'')
    assert rt.execute(code).value == '{"a":[null,{"b":null}]}'
    kept = call(rt, "JSON.parse", '{"a":[null]}', {"keep_null": True})
    assert repr(kept) == "{'a': [JSON.null]}"


@pytest.mark.parametrize(
    ("engine", "code"),
    [
        ("lua", "State.save('global', 'k', {1, JSON.null, 3})"),
        ("python", "State.save('global', 'k', [1, JSON.null, 3])"),
    ],
)
def test_state_stores_json_null_as_null(make_runtime: MakeRuntime, engine: str, code: str) -> None:
    rt = make_runtime(engine)
    rt.execute(code)
    state = rt.infrastructure.get(StateManager)
    assert state.load("global", "k") == [1, None, 3]


def test_json_parse_rejects_bad_options(rt: ScriptRuntime) -> None:
    err = call_error(rt, "JSON.parse", "[]", {"keep_nul": True})
    assert err.evalue == "JSON.parse: unknown option 'keep_nul'; allowed: keep_null"
    err = call_error(rt, "JSON.parse", "[]", {"keep_null": "yes"})
    assert (err.ename, err.evalue) == (
        "ValidationError",
        "JSON.parse: options.keep_null must be a boolean, got 'yes'",
    )


def test_json_parse_errors_give_the_position(rt: ScriptRuntime) -> None:
    err = call_error(rt, "JSON.parse", '{"a": 1,\n  oops}')
    assert err.evalue.startswith("JSON.parse: ")
    assert "at line 2 column 3 (char 11)" in err.evalue


def test_json_stringify_is_compact_and_sorted_by_default(rt: ScriptRuntime) -> None:
    assert call(rt, "JSON.stringify", {"b": 1, "a": [1, "x"]}) == '{"a":[1,"x"],"b":1}'


def test_json_stringify_indents(rt: ScriptRuntime) -> None:
    text = call(rt, "JSON.stringify", {"b": 1, "a": 2}, {"indent": 2})
    assert text == '{\n  "a": 2,\n  "b": 1\n}'


def test_json_stringify_can_keep_insertion_order_in_python(py: ScriptRuntime) -> None:
    assert call(py, "JSON.stringify", {"b": 1, "a": 2}, {"sort_keys": False}) == '{"b":1,"a":2}'


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"indnt": 2}, "JSON.stringify: unknown option 'indnt'; allowed: indent, sort_keys"),
        ({"indent": -1}, "JSON.stringify: options.indent must be >= 0, got -1"),
        ({"indent": "x"}, "JSON.stringify: options.indent must be an integer"),
        ({"sort_keys": "yes"}, "JSON.stringify: options.sort_keys must be a boolean"),
    ],
)
def test_json_stringify_rejects_bad_options(rt: ScriptRuntime, options: dict, message: str) -> None:
    assert call_error(rt, "JSON.stringify", [1], options).evalue.startswith(message)


def test_json_keeps_unicode_text(rt: ScriptRuntime) -> None:
    assert call(rt, "JSON.stringify", {"k": "héllo ✓"}) == '{"k":"héllo ✓"}'
    assert call(rt, "JSON.parse", '"\\u00e9"') == "é"


# --- Config -------------------------------------------------------------------------------------


def test_config_get_reads_dotted_paths_and_sections(rt: ScriptRuntime) -> None:
    assert call(rt, "Config.get", "storage.backend") == "memory"
    lua_section = call(rt, "Config.get", "engines.lua")
    assert lua_section == {
        "security": "safe",
        "max_memory_mb": 512,
        "timeout_s": 0,
        "env_allowlist": ["HOME", "USER", "LANG", "TZ"],
    }
    whole = call(rt, "Config.get")
    assert whole["storage"]["backend"] == "memory"
    assert whole["default_engine"] == "lua"


def test_config_get_of_an_unknown_path_is_nil(rt: ScriptRuntime) -> None:
    # as rs-llmspell's Config.get: a script may probe for a setting (Config.getSection too)
    assert call(rt, "Config.get", "storage.nope") is None
    assert call(rt, "Config.getSection", "nope") is None


def test_config_get_redacts_secrets(make_runtime: MakeRuntime, engine: str) -> None:
    rt = make_runtime(engine, storage__postgres__url="postgresql://app:hunter2@db/llm")
    assert call(rt, "Config.get", "storage.postgres.url") == "postgresql://app:***@db/llm"
    assert "hunter2" not in json.dumps(call(rt, "Config.get"))


@pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])
def test_config_get_redacts_every_libpq_password_form(
    make_runtime: MakeRuntime, form: CredentialForm
) -> None:
    rt = make_runtime("lua", storage__postgres__url=form.url, storage__postgres__admin_url=form.url)
    url = call(rt, "Config.get", "storage.postgres.url")
    assert "***" in url and form.secret not in url
    assert form.secret not in json.dumps(call(rt, "Config.get", "storage.postgres"))
    assert form.secret not in json.dumps(call(rt, "Config.get"))


@pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])
def test_a_storage_error_a_script_sees_does_not_show_the_password(
    make_runtime: MakeRuntime, form: CredentialForm
) -> None:
    rt = make_runtime(
        "lua",
        storage__backend="postgres",
        storage__postgres__url=form.url,
        storage__postgres__admin_url=form.url,
    )
    err = error_of(rt, 'State.save("global", "k", 1)')
    assert "cannot connect to PostgreSQL" in err.evalue
    assert form.secret not in err.evalue


def test_config_reports_engine_network_and_file_access(
    make_runtime: MakeRuntime, engine: str
) -> None:
    plain = make_runtime(engine)
    assert call(plain, "Config.getDefaultEngine") == "lua"
    assert call(plain, "Config.isNetworkAccessAllowed") is False
    assert call(plain, "Config.isFileAccessAllowed") is True  # the private temporary directory
    closed = make_runtime(engine, tools__allowed_paths=[])
    assert call(closed, "Config.isFileAccessAllowed") is False
    open_ = make_runtime(
        engine, tools__network_allowed=True, tools__allowed_paths=["/data"], default_engine="python"
    )
    assert call(open_, "Config.getDefaultEngine") == "python"
    assert call(open_, "Config.isNetworkAccessAllowed") is True
    assert call(open_, "Config.isFileAccessAllowed") is True


# --- Debug --------------------------------------------------------------------------------------


def test_debug_levels_filter_what_reaches_stderr(rt: ScriptRuntime) -> None:
    def emit() -> str:
        calls = [f"Debug.{level}('{level[0]}')" for level in LEVELS]
        return rt.execute("\n".join(calls)).stderr

    assert call(rt, "Debug.getLevel") == "info"
    assert emit() == "[INFO] i\n[WARN] w\n[ERROR] e\n"
    assert call(rt, "Debug.setLevel", "trace") == "trace"
    assert emit() == "[TRACE] t\n[DEBUG] d\n[INFO] i\n[WARN] w\n[ERROR] e\n"
    call(rt, "Debug.setLevel", "error")
    assert emit() == "[ERROR] e\n"
    assert call(rt, "Debug.getLevel") == "error"


def test_debug_log_takes_a_level_and_a_module(rt: ScriptRuntime) -> None:
    code = "Debug.log('warn', 'disk low', 'storage')"
    assert rt.execute(code).stderr == "[WARN storage] disk low\n"


def test_debug_rejects_unknown_levels(rt: ScriptRuntime) -> None:
    err = call_error(rt, "Debug.setLevel", "loud")
    assert (
        err.evalue
        == "Debug.setLevel: level must be one of trace, debug, info, warn, error, got 'loud'"
    )


def test_debug_output_is_not_duplicated_by_python_logging(
    rt: ScriptRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    result = rt.execute("Debug.error('only once')")
    assert result.stderr == "[ERROR] only once\n"
    assert "only once" not in capfd.readouterr().err


def test_debug_timer_measures_milliseconds(lua: ScriptRuntime) -> None:
    code = (
        "local t = Debug.timer('work')\n"
        "local c = os.clock() while os.clock() - c < 0.02 do end\n"
        "local ms = t:stop()\n"
        "return ms, t:stop() == ms, t:name()"
    )
    ms, same, name = lua.execute(code).value
    assert 15 <= ms < 2000
    assert same is True
    assert name == "work"


def test_debug_dump_pretty_prints_in_the_engines_syntax(
    lua: ScriptRuntime, py: ScriptRuntime
) -> None:
    assert lua.execute("return Debug.dump({1, 2, x = 'y'})").value == '{1, 2, x = "y"}'
    assert lua.execute("return Debug.dump(nil)").value == "nil"
    assert call(py, "Debug.dump", {"x": [1, 2]}) == "{'x': [1, 2]}"


# --- Tenant -------------------------------------------------------------------------------------


def test_tenant_id_is_the_configured_tenant(make_runtime: MakeRuntime, engine: str) -> None:
    assert call(make_runtime(engine), "Tenant.id") == "default"
    assert call(make_runtime(engine, tenancy__tenant_id="acme"), "Tenant.id") == "acme"


# --- Display and display() ----------------------------------------------------------------------


def test_display_html_markdown_and_json_bundles(rt: ScriptRuntime) -> None:
    table = "{a = {1, 2}}" if rt.engine_name == "lua" else "{'a': [1, 2]}"
    assert rt.execute(f"Display.json({table})").displays == [
        {"text/plain": '{\n  "a": [\n    1,\n    2\n  ]\n}'}
    ], "JSON text: no application/json tree that would number a Lua array from 0"
    html = rt.execute("Display.html('<b>x</b>')").displays
    assert html == [{"text/html": "<b>x</b>", "text/plain": "<b>x</b>"}]
    md = rt.execute("Display.markdown('# Title')").displays
    assert md == [{"text/markdown": "# Title", "text/plain": "# Title"}]


def test_display_image_from_bytes(lua: ScriptRuntime) -> None:
    data = "".join(f"\\{b:03d}" for b in PNG)
    result = lua.execute(f'Display.image("{data}")')
    bundle = result.displays[0]
    assert base64.b64decode(bundle["image/png"]) == PNG
    assert bundle["text/plain"] == f"<image/png image, {len(PNG)} bytes>"


def test_display_image_from_a_path_in_the_working_directory(
    rt: ScriptRuntime, isolated_env: Path
) -> None:
    (isolated_env / "plot.png").write_bytes(PNG)
    bundle = rt.execute("Display.image('plot.png')").displays[0]
    assert base64.b64decode(bundle["image/png"]) == PNG


def test_display_image_outside_allowed_dirs_is_rejected_in_safe_mode(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "plot.png"
    outside.parent.mkdir()
    outside.write_bytes(PNG)
    err = error_of(make_runtime(), f"Display.image('{outside}')")
    assert err.ename == "ValidationError"
    assert "outside the working directory and tools.allowed_paths" in err.evalue
    allowed = make_runtime(tools__allowed_paths=[str(outside.parent)])
    assert allowed.execute(f"Display.image('{outside}')").displays[0]["image/png"]
    trusted = make_runtime(engines__lua__security="trusted")
    assert trusted.execute(f"Display.image('{outside}')").displays[0]["image/png"]


def test_display_image_path_check_belongs_to_the_lua_sandbox_only(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    outside = tmp_path / "outside" / "plot.png"
    outside.parent.mkdir()
    outside.write_bytes(PNG)
    code = f"Display.image({str(outside)!r})"
    python = make_runtime("python", engines__lua__security="safe")
    assert base64.b64decode(python.execute(code).displays[0]["image/png"]) == PNG
    err = error_of(make_runtime("lua", engines__lua__security="safe"), code)
    assert err.ename == "ValidationError"
    assert "(safe mode)" in err.evalue


def test_display_image_needs_a_known_type(lua: ScriptRuntime, isolated_env: Path) -> None:
    (isolated_env / "notes.txt").write_text("hello")
    err = error_of(lua, "Display.image('notes.txt')")
    assert "cannot tell the image type of 'notes.txt'; pass mime" in err.evalue
    err = error_of(lua, "Display.image('notes.txt', 'text/plain')")
    assert "mime must be one of image/png" in err.evalue


def test_display_table_renders_records(rt: ScriptRuntime) -> None:
    rows = "{{n = 1, name = 'a'}, {n = 22, name = 'b'}}"
    if rt.engine_name == "python":
        rows = "[{'n': 1, 'name': 'a'}, {'n': 22, 'name': 'b'}]"
    bundle = rt.execute(f"Display.table({rows})").displays[0]
    assert bundle["text/html"].startswith("<table><thead><tr><th>n</th><th>name</th></tr>")
    assert "<tr><td>22</td><td>b</td></tr>" in bundle["text/html"]
    assert bundle["text/plain"].split("\n") == ["n   name", "--  ----", "1   a", "22  b"]


def test_display_table_rejects_non_records(rt: ScriptRuntime) -> None:
    err = call_error(rt, "Display.table", [1, 2])
    assert err.evalue.startswith("Display.table: rows must be a list of tables")


def test_display_clear_removes_earlier_output(lua: ScriptRuntime) -> None:
    result = lua.execute("display(1) Display.clear() display(2)")
    assert result.displays == [{"text/plain": "2"}]


def test_display_function_shows_any_value_richly(rt: ScriptRuntime) -> None:
    code = "display({a = {1, 2}})" if rt.engine_name == "lua" else "display({'a': [1, 2]})"
    bundle = rt.execute(code).displays[0]
    assert "application/json" not in bundle, "Lab would show a JSON tree, 0-based"
    assert bundle["text/plain"] == ("{a = {1, 2}}" if rt.engine_name == "lua" else "{'a': [1, 2]}")


# --- Streaming ----------------------------------------------------------------------------------

PRODUCERS = {
    "lua": "function() for i = 1, 3 do coroutine.yield(i * 10) end end",
    "python": "lambda: (i * 10 for i in range(1, 4))",
}


def test_streams_pull_values_one_at_a_time(rt: ScriptRuntime) -> None:
    method = ":" if rt.engine_name == "lua" else "."
    rt.execute(f"s = Streaming.create({PRODUCERS[rt.engine_name]})")
    first = rt.execute(f"s{method}next()").value
    assert (first, rt.execute(f"s{method}isDone()").value) == (10, False)
    assert as_list(rt.execute(f"s{method}collect()").value) == [20, 30]
    assert rt.execute(f"s{method}isDone()").value is True
    assert rt.execute(f"s{method}next()").value is None


def test_both_engines_share_one_stream_object(rt: ScriptRuntime) -> None:
    stream = rt.execute(f"Streaming.create({PRODUCERS[rt.engine_name]})").value
    assert isinstance(stream, Stream)
    # the values stay the engine's own (a Lua table yielded is the same table when pulled)
    assert [raw_of(v) for v in stream.collect()] == [10, 20, 30]


def test_python_streams_take_generator_functions_and_iterables(py: ScriptRuntime) -> None:
    assert py.execute("Streaming.create([1, 2]).collect()").value == [1, 2]
    err = error_of(py, "Streaming.create(5)")
    assert err.ename == "ValidationError"
    assert (
        err.evalue == "Streaming.create: fn must be a generator function or iterable, got integer"
    )


# --- help and docs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["help(State.save)", "help('State.save')", "?State.save", "State.save?"]
)
def test_help_pages_show_signature_and_doc(rt: ScriptRuntime, code: str) -> None:
    pages = rt.execute(code).pages
    assert len(pages) == 1
    assert pages[0].startswith("State.save(scope, key, value)\n\n")
    assert "JSON-able" in pages[0]


@pytest.mark.parametrize("code", ["help(Streaming.create)", "?Streaming.create"])
def test_help_of_streaming_create_is_its_one_docstring(rt: ScriptRuntime, code: str) -> None:
    assert rt.execute(code).pages == [rt.docs.entries["Streaming.create"].page()]
    assert rt.docs.entries["Streaming.create"].page().startswith("Streaming.create(fn)\n\n")


def test_help_of_a_namespace_lists_its_functions(rt: ScriptRuntime) -> None:
    page = rt.execute("help(State)").pages[0]
    assert "State.history(scope, key, limit?)" in page
    assert "State.list_keys(scope, prefix?)" in page


def test_help_without_argument_lists_the_globals(rt: ScriptRuntime) -> None:
    page = rt.execute("help()").pages[0]
    for name in [*ALWAYS_PRESENT, "display", "help"]:
        assert f"  {name} " in page


def test_help_of_a_user_value_summarises_it(lua: ScriptRuntime) -> None:
    lua.execute("t = {1, 2, 3}")
    assert lua.execute("help(t)").pages == ["type: table, 3 entries\nvalue: {1, 2, 3}\n"]
    assert lua.execute("?t").pages == ["type: table, 3 entries\nvalue: {1, 2, 3}\n"]


def test_help_of_an_unknown_name_says_so(rt: ScriptRuntime) -> None:
    page = rt.execute("?nothing_here").pages[0]
    assert page.startswith("nothing_here does not exist: nothing_here is not defined.")


def test_every_api_function_has_a_docstring(rt: ScriptRuntime) -> None:
    entries = rt.docs.entries
    functions = [e for e in entries.values() if e.kind == "function"]
    assert len(functions) > 30
    undocumented = [e.qualified for e in entries.values() if not e.doc.strip()]
    assert undocumented == []


def test_the_doc_index_covers_every_public_function(rt: ScriptRuntime) -> None:
    sink = CapturingSink(ExecutionResult())
    globals_ = build_globals(ApiContext(rt.config, rt.infrastructure, sink))
    expected: set[str] = set()

    def walk(name: str, value: object) -> None:
        if isinstance(value, ApiNamespace):
            expected.update(f"{name}.{fn}" for fn, _ in public_functions(value))
            for member, sub in public_members(value):
                walk(f"{name}.{member}", sub)
        elif callable(value):
            expected.add(name)

    for name, value in globals_.items():
        walk(name, value)
    assert expected <= set(rt.docs.entries)


def test_json_parse_refuses_nesting_deeper_than_the_engines_carry(rt: ScriptRuntime) -> None:
    assert call(rt, "JSON.parse", "[" * 200 + "]" * 200) is not None
    for depth in (201, 900, 100_000):
        err = call_error(rt, "JSON.parse", "[" * depth + "]" * depth)
        assert err.ename == "ValidationError"
        assert err.evalue == (
            "JSON.parse: arrays and objects nested deeper than 200 levels are not supported"
        )
