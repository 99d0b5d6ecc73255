"""Magics on lines starting with `%` and `!cmd` shell escapes, run by the runtime for every host:
%time, %%time, %timeit, %who, %reset, %lsmagic, %config, %run, %load, %history, %env, %who_ls,
and how a cell splits around them."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import pytest
from fakes.connection_strings import FORMS, CredentialForm
from runtime_helpers import MakeRuntime, as_list, error_of

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.config import load_config
from llmspell.runtime.magics import format_time
from llmspell.runtime.results import CapturingSink, ExecutionResult

TIMES = re.compile(
    r"CPU times: user [\d.]+ (?:s|ms|µs|ns), sys: [\d.]+ (?:s|ms|µs|ns), "
    r"total: [\d.]+ (?:s|ms|µs|ns)\nWall time: [\d.]+ (?:s|ms|µs|ns)\n"
)
TIMEIT = re.compile(
    r"[\d.]+ (?:s|ms|µs|ns) ± [\d.]+ (?:s|ms|µs|ns) per loop "
    r"\(mean ± std\. dev\. of (\d+) runs?, ([\d,]+) loops? each\)\n"
)
DEFINE = {"lua": "x = 1\nt = {}\nf = function() end", "python": "x = 1\nt = {}\ndef f(): pass"}


# --- %time, %%time, %timeit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(2.5, "2.5 s"), (0.0009996, "1 ms"), (0.000999, "999 µs"), (4.2e-8, "42 ns"), (0, "0 ns")],
)
def test_times_have_three_significant_digits_and_a_unit(seconds: float, shown: str) -> None:
    assert format_time(seconds) == shown


def test_time_prints_cpu_and_wall_time_and_keeps_the_value(rt: ScriptRuntime) -> None:
    result = rt.execute("%time 6 * 7")
    assert TIMES.fullmatch(result.stdout)
    assert (result.has_value, result.value) == (True, 42)


def test_cell_time_times_the_whole_cell(rt: ScriptRuntime) -> None:
    body = (
        "n = 0\nfor i = 1, 10 do n = n + i end\nn"
        if rt.engine_name == "lua"
        else ("n = sum(range(11))\nn")
    )
    result = rt.execute(f"%%time\n{body}")
    assert TIMES.fullmatch(result.stdout)
    assert result.value == 55


def test_timeit_runs_the_statement_the_given_number_of_times(rt: ScriptRuntime) -> None:
    rt.execute("n = 0")
    result = rt.execute("%timeit -n 5 -r 3 n = n + 1")
    m = TIMEIT.fullmatch(result.stdout)
    assert m is not None and m.groups() == ("3", "5")
    assert result.has_value is False
    assert rt.execute("n").value == 15


def test_timeit_of_a_lua_expression_and_of_a_cell(lua: ScriptRuntime) -> None:
    assert TIMEIT.fullmatch(lua.execute("%timeit -n 10 -r 1 math.sqrt(2), 1").stdout)
    assert TIMEIT.fullmatch(lua.execute("%%timeit -n 2 -r 2\nlocal s = 0\ns = s + 1").stdout)


def test_timeit_picks_the_loop_count_itself(lua: ScriptRuntime) -> None:
    m = TIMEIT.fullmatch(lua.execute("%timeit -r 1 local x = 1").stdout)
    assert m is not None and int(m.group(2).replace(",", "")) >= 1000


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("%timeit -n x 1", "%timeit: -n needs a positive integer, got 'x'"),
        ("%timeit -q 1", "%timeit: unknown option '-q' (allowed: -n N, -r R)"),
        ("%timeit", "%timeit: give a statement to time"),
        ("%time", "%time: give a statement to time (%%time times the whole cell)"),
    ],
)
def test_bad_timing_arguments_are_usage_errors(rt: ScriptRuntime, code: str, message: str) -> None:
    err = error_of(rt, code)
    assert (err.ename, err.evalue) == ("UsageError", message)


def test_errors_in_timed_code_keep_the_cells_line_numbers(lua: ScriptRuntime) -> None:
    err = error_of(lua, "x = 1\n%timeit -n 1 -r 1 error('boom')", name="[cell 4]")
    assert err.evalue == "[cell 4]:2: boom"


# --- %who, %reset -------------------------------------------------------------------------------


def test_who_lists_what_the_scripts_defined_not_the_api(rt: ScriptRuntime) -> None:
    assert rt.execute("%who").stdout == "No user globals defined.\n"
    rt.execute(DEFINE[rt.engine_name])
    assert rt.execute("%who").stdout == "f\tt\tx\n"


def test_who_filters_by_type(rt: ScriptRuntime) -> None:
    rt.execute(DEFINE[rt.engine_name])
    kinds = {"lua": ("table", "number"), "python": ("dict", "int")}[rt.engine_name]
    assert rt.execute(f"%who {kinds[0]}").stdout == "t\n"
    assert rt.execute(f"%who {' '.join(kinds)}").stdout == "t\tx\n"


def test_reset_forgets_user_globals_and_restores_the_api(rt: ScriptRuntime) -> None:
    rt.execute(DEFINE[rt.engine_name])
    rt.execute("State = None" if rt.engine_name == "python" else "State = nil")
    assert rt.execute("%reset -f").stdout == "Forgot 4: State, f, t, x\n"
    assert rt.execute("%who").stdout == "No user globals defined.\n"
    check = "State is not None" if rt.engine_name == "python" else "State ~= nil"
    assert rt.execute(check).value is True
    assert rt.execute("%reset").stdout == "No user globals to forget.\n"


def test_script_arguments_are_not_user_globals(rt: ScriptRuntime) -> None:
    rt.execute("y = 1", name="job", args=["a"], kwargs={"k": "v"})
    assert rt.execute("%who").stdout == "y\n"


# --- %lsmagic, %config ----------------------------------------------------------------------------


def test_lsmagic_lists_the_magics(lua: ScriptRuntime) -> None:
    assert lua.execute("%lsmagic").stdout == (
        "Line magics: %config  %env  %history  %load  %lsmagic  %reset  %run  %time  %timeit  "
        "%who  %who_ls\n"
        "Cell magics: %%time  %%timeit\n"
        'Shell commands: !command (needs engines.lua.security = "trusted")\n'
    )


def test_config_shows_effective_values_with_sources_and_redacts(
    make_runtime: MakeRuntime, engine: str
) -> None:
    loaded = load_config(
        profile="memory",
        env={"LLMSPELL_STORAGE__POSTGRES__URL": "postgresql://app:s3cret@db/llmspell"},
    )
    with ScriptRuntime(loaded.config, engine=engine, loaded_config=loaded) as rt:
        out = rt.execute("%config storage.postgres.url").stdout
        assert out == (
            'storage.postgres.url = "postgresql://app:***@db/llmspell"  '
            "# environment variable LLMSPELL_STORAGE__POSTGRES__URL\n"
        )
        everything = rt.execute("%config").stdout
        assert 'storage.backend = "memory"' in re.sub(r" +", " ", everything)
        assert "s3cret" not in everything


@pytest.mark.parametrize("form", FORMS, ids=[form.name for form in FORMS])
def test_config_redacts_every_libpq_password_form(form: CredentialForm) -> None:
    loaded = load_config(
        profile="memory",
        env={"LLMSPELL_STORAGE__POSTGRES__URL": form.url},
        overrides={"storage.postgres.admin_url": form.url},
    )
    with ScriptRuntime(loaded.config, loaded_config=loaded) as rt:
        for cell in ("%config storage.postgres.url", "%config storage.postgres", "%config"):
            out = rt.execute(cell).stdout
            assert "***" in out and form.secret not in out, cell


def test_config_of_an_unknown_path_lists_the_sections(rt: ScriptRuntime) -> None:
    err = error_of(rt, "%config nope")
    assert err.ename == "UsageError"
    assert err.evalue.startswith("%config: no setting or section 'nope'; sections: ")


# --- !command -------------------------------------------------------------------------------------


def test_shell_commands_are_refused_in_the_sandbox(make_runtime: MakeRuntime) -> None:
    safe = make_runtime("lua", engines__lua__security="safe")
    err = error_of(safe, "!echo hi")
    assert err.ename == "PermissionError"
    assert err.evalue == (
        '!echo hi: shell commands need engines.lua.security = "trusted"; '
        "this runtime runs scripts in the sandbox"
    )


@pytest.mark.parametrize(
    ("engine", "security"), [("lua", "trusted"), ("python", "safe")], ids=["lua", "python"]
)
def test_shell_commands_run_when_the_engine_is_trusted(
    make_runtime: MakeRuntime, engine: str, security: str
) -> None:
    rt = make_runtime(engine, engines__lua__security=security)
    result = rt.execute("!echo out; echo err >&2; exit 3")
    assert result.stdout == "out\n"
    assert result.stderr == "err\n(exit status 3)\n"


@pytest.mark.timeout(20)
def test_an_interrupt_kills_a_running_shell_command(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua", engines__lua__security="trusted")
    threading.Timer(0.3, rt.interrupt).start()
    started = time.monotonic()
    err = error_of(rt, "!sleep 30")
    assert err.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < 10  # not the command's 30 s (wide: a busy machine)


@pytest.mark.timeout(20)
def test_a_shell_command_gets_the_engines_time_limit(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua", engines__lua__security="trusted", engines__lua__timeout_s=0.3)
    err = error_of(rt, "!sleep 30")
    assert (err.ename, err.evalue) == (
        "TimeoutError",
        "!sleep 30: exceeded the time limit of 0.3 s",
    )


# --- how a cell splits ----------------------------------------------------------------------------


def test_code_around_magic_lines_runs_in_order_and_the_last_value_shows(
    lua: ScriptRuntime,
) -> None:
    result = lua.execute("print('a')\nx = 2\n%who\nprint('b')\nx * 21")
    assert result.stdout == "a\nx\nb\n"
    assert result.value == 42


def test_errors_after_a_magic_line_name_the_cells_line(
    lua: ScriptRuntime, py: ScriptRuntime
) -> None:
    err = error_of(lua, "x = 1\n%who\nerror('boom')", name="[cell 3]")
    assert err.evalue == "[cell 3]:3: boom"
    err = error_of(py, "x = 1\n%who\nraise ValueError('boom')", name="[cell 3]")
    assert '  File "[cell 3]", line 3, in <module>' in err.traceback


def test_a_percent_line_inside_a_lua_long_string_is_text(lua: ScriptRuntime) -> None:
    assert lua.execute("local t = [[\n%s done\n!important\n]]\nreturn t").value == (
        "%s done\n!important\n"
    )


def test_a_python_line_starting_with_not_equal_is_code(py: ScriptRuntime) -> None:
    assert py.execute("x = (1\n!= 2)\nx").value is True


def test_unknown_magics_and_misplaced_cell_magics_are_usage_errors(rt: ScriptRuntime) -> None:
    err = error_of(rt, "%nope")
    assert (err.ename, err.evalue) == (
        "UsageError",
        "%nope: no such magic; available: %config, %env, %history, %load, %lsmagic, %reset, "
        "%run, %time, %timeit, %who, %who_ls (%lsmagic)",
    )
    err = error_of(rt, "x = 1\n%%time")
    assert (err.ename, err.evalue) == ("UsageError", "%%time must be the first line of the cell")


@pytest.mark.parametrize(
    ("code", "matches", "start"),
    [
        ("%ti", ["%time", "%timeit"], 0),
        ("%%t", ["%%time", "%%timeit"], 0),
        ("x = 1\n  %wh", ["%who", "%who_ls"], 8),
    ],
)
def test_magic_names_complete(rt: ScriptRuntime, code: str, matches: list[str], start: int) -> None:
    completion = rt.complete(code)
    assert (completion.matches, completion.cursor_start) == (matches, start)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("%who", "complete"),
        ("%time x = 1", "complete"),
        ("%%time", "incomplete"),
        ("%%time\nfor i = 1, 2 do", "incomplete"),
        ("%%time\nfor i = 1, 2 do end", "incomplete"),  # the body ends at an empty line
        ("%%time\nx = 1", "incomplete"),
        ("%%time\nx = 1\ny = 2\n", "complete"),
        ("%%time\nfor i = 1, 2 do\n", "incomplete"),
        ("x = {\n%who", "incomplete"),
    ],
)
def test_is_complete_understands_magics(lua: ScriptRuntime, code: str, status: str) -> None:
    assert lua.is_complete(code).status == status


def test_a_cell_magic_typed_in_the_console_waits_for_its_whole_body(lua: ScriptRuntime) -> None:
    """jupyter console runs a cell as soon as is_complete says so: `%%time` with its first
    line was complete, so only that line was timed and the next ones ran untimed."""
    typed = "%%time\nx = 1"
    assert lua.is_complete(typed).status == "incomplete"
    typed += "\ny = x + 1"
    assert lua.is_complete(typed).status == "incomplete"
    typed += "\n"
    assert lua.is_complete(typed).status == "complete"
    out = lua.execute(typed)
    assert TIMES.fullmatch(out.stdout) and lua.execute("y").value == 2


# --- %run, %load, %history, %env, %who_ls ---------------------------------------------------------


SCRIPT = {"lua": ("job.lua", "ran = (ran or 0) + 1\nreturn ran * 10"),
          "python": ("job.py", "ran = globals().get('ran', 0) + 1\nran * 10")}  # fmt: skip


def test_run_executes_a_file_in_the_runtimes_globals(
    rt: ScriptRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    name, code = SCRIPT[rt.engine_name]
    (tmp_path / name).write_text(code, encoding="utf-8")
    assert rt.execute(f"%run {name}").value == 10
    assert rt.execute(f"%run {tmp_path / name}").value == 20
    assert rt.execute("ran").value == 2
    err = error_of(rt, "%run missing.lua")
    assert (err.ename, err.evalue) == ("FileNotFoundError", "%run: no file 'missing.lua'")


def test_run_and_load_in_the_sandbox_read_only_the_working_dir_and_allowed_paths(
    make_runtime: MakeRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work, allowed, outside = tmp_path / "cwd", tmp_path / "granted", tmp_path / "elsewhere"
    for folder in (work, allowed, outside):
        folder.mkdir()
        (folder / "f.lua").write_text("return 7", encoding="utf-8")
    monkeypatch.chdir(work)
    safe = make_runtime("lua", tools__allowed_paths=[str(allowed)])
    assert safe.execute("%run f.lua").value == 7
    assert safe.execute(f"%run {allowed / 'f.lua'}").value == 7
    for magic in ("run", "load"):
        err = error_of(safe, f"%{magic} {outside / 'f.lua'}")
        assert err.ename == "PermissionError" and "tools.allowed_paths" in err.evalue
        err = error_of(safe, f"%{magic} ../elsewhere/f.lua")
        assert err.ename == "PermissionError"
    trusted = make_runtime("lua", engines__lua__security="trusted")
    assert trusted.execute(f"%run {outside / 'f.lua'}").value == 7


class NextInputSink(CapturingSink):
    """A sink like the kernel's: it can put text into the next cell."""

    next_input: str | None = None

    def set_next_input(self, text: str) -> None:
        self.next_input = text


def test_load_puts_the_file_into_the_next_cell_or_prints_it(
    lua: ScriptRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.lua").write_text("print(1)\n", encoding="utf-8")
    assert lua.execute("%load f.lua").stdout == "print(1)\n"
    sink = NextInputSink(ExecutionResult())
    lua.set_output(sink)
    lua.execute("%load f.lua")
    assert sink.next_input == "-- %load f.lua\nprint(1)\n"
    assert sink.result.stdout == ""


def test_history_lists_this_sessions_cells_numbered(lua: ScriptRuntime) -> None:
    assert lua.execute("%history").stdout == "No earlier cells.\n"
    lua.execute("x = 1")
    lua.execute("for i = 1, 2 do\n  x = x + i\nend")
    assert lua.execute("%history").stdout == (
        "1: %history\n2: x = 1\n3: for i = 1, 2 do\n     x = x + i\n   end\n"
    )
    assert (
        lua.execute("%history 2").stdout
        == "3: for i = 1, 2 do\n     x = x + i\n   end\n4: %history\n"
    )
    assert error_of(lua, "%history -3").ename == "UsageError"


def test_who_ls_returns_the_names_as_a_list(rt: ScriptRuntime) -> None:
    assert as_list(rt.execute("%who_ls").value) == []
    rt.execute(DEFINE[rt.engine_name])
    assert rt.execute("%who_ls").value == ["f", "t", "x"]
    kind = {"lua": "number", "python": "int"}[rt.engine_name]
    assert rt.execute(f"%who_ls {kind}").value == ["x"]


def test_env_redacts_secrets_and_llmspell_settings(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:s3cret@db/x")
    monkeypatch.setenv("LLMSPELL_STORAGE__BACKEND", "memory")
    trusted = make_runtime("lua", engines__lua__security="trusted")
    listed = trusted.execute("%env").stdout
    assert "PLAIN_SETTING=visible\n" in listed
    assert "MY_SERVICE_TOKEN=***\n" in listed and "OPENAI_API_KEY=***\n" in listed
    assert "LLMSPELL_STORAGE__BACKEND=***\n" in listed
    assert "DATABASE_URL=postgresql://app:***@db/x\n" in listed
    for secret in ("tok-123", "sk-abc", "s3cret"):
        assert secret not in listed
    assert trusted.execute("%env OPENAI_API_KEY").stdout == "***\n"
    assert trusted.execute("%env NEW_ONE=1").stdout == "env: NEW_ONE=1\n"
    assert os.environ["NEW_ONE"] == "1"
    monkeypatch.delenv("NEW_ONE")


def test_env_in_the_sandbox_shows_only_the_allowlist(
    make_runtime: MakeRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    monkeypatch.setenv("TZ", "UTC")
    safe = make_runtime("lua", engines__lua__env_allowlist=["TZ"])
    assert safe.execute("%env").stdout == "TZ=UTC\n"
    assert error_of(safe, "%env PLAIN_SETTING").ename == "PermissionError"
    assert error_of(safe, "%env TZ=CET").ename == "PermissionError"
