"""Running Lua cells: persistent globals, chunk names and tracebacks, print and io, auto-display,
the pretty printer, Streaming, API objects, and script arguments."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.api.debug_api import Timer
from llmspell.runtime.results import StdinNotAvailable


class RecordingSink:
    """An OutputSink that records every call in order and answers io.read from a list."""

    def __init__(self, lines: list[str] | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.lines = list(lines or [])

    def stdout(self, text: str) -> None:
        self.events.append(("stdout", text))

    def stderr(self, text: str) -> None:
        self.events.append(("stderr", text))

    def display(self, bundle: dict[str, Any], metadata: dict[str, Any]) -> None:
        self.events.append(("display", bundle))

    def clear(self, wait: bool) -> None:
        self.events.append(("clear", wait))

    def page(self, text: str) -> None:
        self.events.append(("page", text))

    def input(self, prompt: str, password: bool) -> str:
        self.events.append(("input", prompt))
        if not self.lines:
            raise StdinNotAvailable("end of input")
        return self.lines.pop(0)


# --- globals, chunk names, errors ---------------------------------------------------------------


def test_globals_persist_between_executions_and_locals_do_not(lua: ScriptRuntime) -> None:
    lua.execute("counter = 1\nlocal hidden = 2\nfunction bump() counter = counter + 1 end")
    lua.execute("bump()")
    assert lua.execute("return counter, hidden").value == [2, None]


def test_runtime_error_names_the_cell_and_line(lua: ScriptRuntime) -> None:
    err = error_of(lua, "local a = 1\nlocal b = a + nil", name="[cell 3]")
    assert err.ename == "LuaError"
    assert err.evalue.startswith("[cell 3]:2: attempt to perform arithmetic on a nil value")


def test_syntax_error_names_the_cell_and_line(lua: ScriptRuntime) -> None:
    err = error_of(lua, "x = 1\nif x then", name="[cell 7]")
    assert err.ename == "LuaError"
    assert err.evalue.startswith("[cell 7]:2:")
    assert "<eof>" in err.evalue


def test_traceback_lists_the_users_lines_and_no_machinery(lua: ScriptRuntime) -> None:
    code = (
        "local function inner()\n  error('deep')\nend\nlocal function outer() inner() end\nouter()"
    )
    err = error_of(lua, code, name="[cell 3]")
    assert err.traceback[0] == "LuaError: [cell 3]:2: deep"
    frames = err.traceback[err.traceback.index("stack traceback:") + 1 :]
    assert [f.split(":")[1] for f in frames] == ["2", "4", "5"]
    assert all(f.strip().startswith("[cell 3]:") for f in frames)
    text = "\n".join(err.traceback)
    for machinery in ("llmspell:", "[C]", "prelude", ".py", "Traceback", "lupa"):
        assert machinery not in text


def test_last_expression_calling_a_failing_function_keeps_its_line(lua: ScriptRuntime) -> None:
    lua.execute("function fail() error('nope') end")
    err = error_of(lua, "local x = 1\nfail()", name="[cell 4]")
    assert "  [cell 4]:2: in main chunk" in err.traceback


def test_error_with_a_table_value_is_reported_without_crashing(lua: ScriptRuntime) -> None:
    err = error_of(lua, "error({code = 1})")
    assert err.evalue == "(error object is a table value)"
    labelled = "error(setmetatable({}, {__tostring = function() return 'custom' end}))"
    assert error_of(lua, labelled).evalue == "custom"


def test_api_errors_keep_the_api_error_class_and_message(lua: ScriptRuntime) -> None:
    err = error_of(lua, "State.save('global', '', 1)")
    assert err.ename == "ValidationError"
    assert err.evalue == "State.save: key must be a non-empty string"


def test_wrong_argument_count_names_the_function_and_its_parameters(lua: ScriptRuntime) -> None:
    err = error_of(lua, "State.save('global')")
    assert err.ename == "ValidationError"
    assert err.evalue == "State.save: expected (scope, key, value), got 1 argument"


def test_a_closed_runtime_refuses_to_execute(make_runtime: MakeRuntime) -> None:
    rt = make_runtime()
    rt.close()
    rt.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        rt.execute("return 1")


# --- print and io -------------------------------------------------------------------------------


def test_print_writes_lua_formatted_values_tab_separated(lua: ScriptRuntime) -> None:
    result = lua.execute("print(3, 3.5, true, nil, 'raw string', {1, 2, x = 'y'}, 2^53)")
    assert result.stdout == '3\t3.5\ttrue\tnil\traw string\t{1, 2, x = "y"}\t9.007199254741e+15\n'


def test_print_without_arguments_prints_an_empty_line(lua: ScriptRuntime) -> None:
    assert lua.execute("print()").stdout == "\n"


def test_io_write_goes_to_stdout_and_io_stderr_to_stderr(lua: ScriptRuntime) -> None:
    result = lua.execute("io.write('a', 1, 2.5):write('b')\nio.stderr:write('warn', '\\n')")
    assert result.stdout == "a12.5b"
    assert result.stderr == "warn\n"


def test_lua_warnings_reach_stderr_and_can_be_switched_off(lua: ScriptRuntime) -> None:
    code = 'warn("disk ", 90, "%")\nwarn("@off")\nwarn("hidden")\nwarn("@on")\nwarn("back")'
    result = lua.execute(code)
    assert result.stderr == "Lua warning: disk 90%\nLua warning: back\n"
    assert result.stdout == ""


def test_warn_rejects_tables(lua: ScriptRuntime) -> None:
    err = error_of(lua, "warn({})")
    assert "bad argument #1 to 'warn' (string expected, got table)" in err.evalue


def test_io_write_rejects_tables_like_lua_does(lua: ScriptRuntime) -> None:
    err = error_of(lua, "io.write({})")
    assert "bad argument #1 to 'write' (string expected, got table)" in err.evalue


def test_io_read_without_stdin_raises_a_clear_error(lua: ScriptRuntime) -> None:
    err = error_of(lua, "local line = io.read()")
    assert err.evalue == "io.read: no input is available (the script runs without stdin)"


def test_io_read_reads_lines_from_the_host(lua: ScriptRuntime) -> None:
    sink = RecordingSink(["first", "42"])
    lua.set_output(sink)
    result = lua.execute("return io.read(), io.read('n')")
    assert result.value == ["first", 42]


def test_output_streams_to_the_sink_as_it_happens(lua: ScriptRuntime) -> None:
    sink = RecordingSink()
    lua.set_output(sink)
    code = "print('before')\nio.stderr:write('oops')\ndisplay({1})\nerror('after')"
    assert error_of(lua, code).evalue.endswith(":4: after"), "the cell ran to its last line"
    kinds = [kind for kind, _ in sink.events]
    assert kinds == ["stdout", "stderr", "display"]
    assert sink.events[0] == ("stdout", "before\n")


def test_streams_returned_from_io_are_not_displayed(lua: ScriptRuntime) -> None:
    assert lua.execute("io.write('x')").has_value is False


# --- auto-display -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("1 + 1", "2"),
        ("7 / 2", "3.5"),
        ("'abc'", '"abc"'),
        ("'say \"hi\"\\n'", '"say \\"hi\\"\\n"'),
        ("true", "true"),
        ("1, 'a', nil", '1, "a", nil'),
        ("x = 5\nx", "5"),
        ("local s = 0\nfor i = 1, 4 do\n  s = s + i\nend\ns", "10"),
        ("local t = {}\nt.x = 1\nt", "{x = 1}"),
        ("-- a comment\n41 + 1\n-- trailing comment", "42"),
        ("x = 1\nState.save('g', 'k',\n  x)", "true"),
        ("return 3", "3"),
    ],
)
def test_last_expression_is_the_result(lua: ScriptRuntime, code: str, text: str) -> None:
    result = lua.execute(code)
    assert result.has_value is True
    assert result.bundle["text/plain"] == text


@pytest.mark.parametrize(
    "code",
    [
        "nil",
        "x = 1",
        "x = 1\nx;",
        "1 + 1;",
        "return 3;",
        "function f() end\nf()",
        "print('hi')",
        "for i = 1, 3 do\n  y = i\nend",
        "",
        "-- only a comment",
    ],
)
def test_cells_without_a_shown_value(lua: ScriptRuntime, code: str) -> None:
    result = lua.execute(code)
    assert result.has_value is False
    assert result.bundle == {}


def test_trailing_semicolon_still_runs_the_expression(lua: ScriptRuntime) -> None:
    lua.execute("n = 0\nfunction bump() n = n + 1 return n end")
    assert lua.execute("bump();").has_value is False
    assert lua.execute("bump() + 0;").has_value is False
    assert lua.execute("n").value == 2


def test_a_loop_ending_the_cell_runs_every_iteration(lua: ScriptRuntime) -> None:
    result = lua.execute("for i = 1, 3 do\n  print(i)\nend")
    assert result.stdout == "1\n2\n3\n"
    result = lua.execute("local i = 0\nwhile i < 3 do\n  i = i + 1\n  io.write(i)\nend")
    assert result.stdout == "123"


def test_a_line_continuing_the_previous_expression_is_not_split_off(lua: ScriptRuntime) -> None:
    result = lua.execute("local a = 2\n  - 1\nb = a")
    assert result.has_value is False
    assert lua.execute("b").value == 1


def test_tables_show_as_lua_text_and_records_as_an_html_table(lua: ScriptRuntime) -> None:
    table = lua.execute("{a = 1, b = {true, false}}").bundle
    assert table == {"text/plain": "{a = 1, b = {true, false}}"}, "no 0-based JSON tree"
    records = lua.execute("{{name = 'a', n = 1}, {name = 'b<', n = 2}}").bundle
    assert set(records) == {"text/plain", "text/html"}, "Lab ranks application/json above HTML"
    html = records["text/html"]
    assert html.startswith("<table>")
    assert "<th>n</th><th>name</th>" in html
    assert "<td>b&lt;</td>" in html


def test_a_list_of_differently_shaped_tables_gets_no_html(lua: ScriptRuntime) -> None:
    bundle = lua.execute("{{a = 1}, {b = 2}}").bundle
    assert bundle == {"text/plain": "{{a = 1}, {b = 2}}"}


def test_values_without_a_data_form_show_only_text(lua: ScriptRuntime) -> None:
    bundle = lua.execute("t = {}\nt.self = t\nt").bundle
    assert bundle == {"text/plain": "{self = <cycle>}"}
    assert lua.execute("print").bundle["text/plain"].startswith("function")


# --- pretty printer -----------------------------------------------------------------------------


def test_pretty_printer_limits_depth(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(kernel__display_max_depth=2)
    assert rt.execute("{a = {b = {c = {}}}}").bundle["text/plain"] == "{a = {b = {...}}}"


def test_pretty_printer_limits_items(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(kernel__display_max_items=3)
    assert rt.execute("{10, 20, 30, 40, 50}").bundle["text/plain"] == "{10, 20, 30, --[[ 2 more ]]}"


def test_pretty_printer_limits_strings(make_runtime: MakeRuntime) -> None:
    rt = make_runtime(kernel__display_max_string=16)
    text = rt.execute("string.rep('x', 20)").bundle["text/plain"]
    assert text == '"' + "x" * 16 + '" --[[ 4 more bytes ]]'


def test_pretty_printer_marks_cycles_and_keeps_shared_tables(lua: ScriptRuntime) -> None:
    text = lua.execute("local s = {1}\nlocal t = {a = s, b = s}\nt.me = t\nt").bundle["text/plain"]
    assert text == "{a = {1}, b = {1}, me = <cycle>}"


def test_pretty_printer_writes_valid_lua_constructors(lua: ScriptRuntime) -> None:
    code = "{1, 2, ['end'] = true, ['a b'] = 1, [10] = math.huge, [1.5] = 0/0}"
    text = lua.execute(code).bundle["text/plain"]
    assert text == '{1, 2, [1.5] = 0/0, [10] = math.huge, ["a b"] = 1, ["end"] = true}'
    assert lua.execute(f"return load('return ' .. {text!r})() ~= nil").value is True


def test_pretty_printer_handles_string_keys_that_look_like_numbers(lua: ScriptRuntime) -> None:
    result = lua.execute('JSON.parse(\'{"1": "one", "2": 2}\')')
    assert result.bundle["text/plain"] == '{["1"] = "one", ["2"] = 2}'
    assert result.value == {"1": "one", "2": 2}


def test_long_tables_break_over_lines(lua: ScriptRuntime) -> None:
    text = lua.execute("{alpha = string.rep('a', 40), beta = string.rep('b', 40)}").bundle[
        "text/plain"
    ]
    assert text.split("\n") == [
        "{",
        '  alpha = "' + "a" * 40 + '",',
        '  beta = "' + "b" * 40 + '",',
        "}",
    ]


# --- Streaming ----------------------------------------------------------------------------------


def test_stream_yields_values_one_at_a_time(lua: ScriptRuntime) -> None:
    lua.execute(
        "s = Streaming.create(function()\n  for i = 1, 3 do coroutine.yield(i * 10) end\nend)"
    )
    assert lua.execute("return s:next(), s:isDone()").value == [10, False]
    assert lua.execute("return s:collect(), s:isDone()").value == [[20, 30], True]
    assert lua.execute("return s:next()").has_value is False


def test_stream_producer_errors_reach_the_caller(lua: ScriptRuntime) -> None:
    lua.execute("s = Streaming.create(function() coroutine.yield(1) error('broken') end)")
    assert lua.execute("return s:next()").value == 1
    err = error_of(lua, "s:next()")
    assert err.ename == "LuaError"
    assert "broken" in err.evalue
    assert lua.execute("return s:next(), s:isDone()").value == [None, True]


def test_stream_producer_error_objects_arrive_unchanged(lua: ScriptRuntime) -> None:
    code = (
        "local boom = {code = 7}\n"
        "local s = Streaming.create(function() error(boom) end)\n"
        "local ok, err = pcall(s.next, s)\n"
        "return ok, err == boom"
    )
    assert lua.execute(code).value == [False, True]


def test_stream_values_stay_lua_values(lua: ScriptRuntime) -> None:
    code = (
        "local t = {}\n"
        "t.self = t\n"
        "local s = Streaming.create(function() coroutine.yield(t) coroutine.yield(print) end)\n"
        "return s:next() == t, s:next() == print"
    )
    assert lua.execute(code).value == [True, True]


def test_a_value_the_producer_returns_is_its_last(lua: ScriptRuntime) -> None:
    lua.execute("s = Streaming.create(function() coroutine.yield(1) return 2 end)")
    assert lua.execute("return s:next(), s:isDone()").value == [1, False]
    assert lua.execute("return s:next(), s:isDone()").value == [2, True]
    lua.execute("c = Streaming.create(function() coroutine.yield(1) return 2 end)")
    assert lua.execute("return c:collect()").value == [1, 2]


def test_stream_needs_a_function(lua: ScriptRuntime) -> None:
    err = error_of(lua, "Streaming.create(5)")
    assert err.ename == "ValidationError"
    assert err.evalue == "Streaming.create: fn must be a function, got number"


# --- API objects --------------------------------------------------------------------------------


def test_api_objects_dropped_by_the_script_are_freed(lua: ScriptRuntime) -> None:
    """A long notebook must not grow: each API object a function returns lives only as long as
    the script holds it."""
    gc.collect()
    before = _live(Timer)
    lua.execute("kept = Debug.timer('kept')")
    lua.execute("for i = 1, 100000 do local t = Debug.timer('dropped') end\ncollectgarbage()")
    gc.collect()
    assert _live(Timer) - before < 100
    assert lua.execute("return kept:name(), kept:elapsed() >= 0").value == ["kept", True]
    assert lua.execute("return kept").value.name() == "kept"


def _live(cls: type) -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, cls))


# --- script arguments ---------------------------------------------------------------------------


def test_args_and_arg_follow_the_cli_convention(lua: ScriptRuntime) -> None:
    lua.execute("x = 1", name="job.lua", args=["a", "b"], kwargs={"k": "v", "flag": "true"})
    assert lua.execute("return ARGS[0], ARGS[1], ARGS[2], ARGS.k, ARGS.flag").value == [
        "job.lua",
        "a",
        "b",
        "v",
        "true",
    ]
    assert lua.execute("return arg[0], #arg, arg[1], arg[2], arg.k").value == [
        "job.lua",
        2,
        "a",
        "b",
        None,
    ]


def test_args_are_empty_tables_when_the_host_passes_none(
    lua: ScriptRuntime, py: ScriptRuntime
) -> None:
    code = "return type(ARGS), next(ARGS), type(arg), next(arg)"
    assert lua.execute(code).value == ["table", None, "table", None]
    assert py.execute("ARGS, arg").value == ({}, [])


def test_python_engine_gets_the_same_arguments(py: ScriptRuntime) -> None:
    result = py.execute("ARGS, arg", name="job.py", args=["a"], kwargs={"k": "v"})
    assert result.value == ({0: "job.py", 1: "a", "k": "v"}, ["job.py", "a"])


def test_long_chunk_names_keep_the_file_name_in_messages(lua: ScriptRuntime) -> None:
    name = "/very/long/directory/" + "nested/" * 12 + "job.lua"
    err = error_of(lua, "local x = 1\nerror('boom')", name=name)
    assert err.evalue.startswith("...")
    assert err.evalue.endswith("/job.lua:2: boom")
