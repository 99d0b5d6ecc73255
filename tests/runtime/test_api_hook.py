"""The Hook global through both engines, and the hook points this issue wires: state writes
(BeforeStateWrite/AfterStateWrite) and code execution (BeforeCodeExecution/AfterCodeExecution).

Tools are another component; where the acceptance script guards `Tool.execute`, these tests
guard a Python-side operation with the same dispatcher call a tool makes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error, error_of

from llmspell.runtime import ScriptError, ScriptRuntime
from llmspell.runtime.hooks import HookCancelled, HookRegistry


def tool_execute(rt: ScriptRuntime, tool: str, params: dict[str, Any]) -> dict[str, Any]:
    """A guarded operation as a tool runs it: before-hooks may modify or cancel its input."""
    hooks = rt.infrastructure.get(HookRegistry)
    try:
        return dict(hooks.run("BeforeToolExecution", tool, params))
    except HookCancelled as exc:
        raise ScriptError("ApiError", f"Tool.execute: {exc}") from None


def test_hooks_fire_with_context_cancel_and_are_recorded_as_the_acceptance_script_says(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        "calls = {}\n"
        "h = Hook.register('BeforeToolExecution', function(ctx) "
        "calls[#calls + 1] = ctx.component; return 'continue' end, 'high')"
    )
    tool_execute(lua, "calculator", {"input": "2 + 2 * 3"})
    assert lua.execute("return calls").value == ["calculator"]
    lua.execute(
        "stop = Hook.register('BeforeToolExecution', function() "
        "return {type = 'cancel', reason = 'blocked by policy'} end, 'highest')"
    )
    with pytest.raises(ScriptError, match=r"Tool\.execute: cancelled by hook: blocked by policy"):
        tool_execute(lua, "calculator", {"input": "1+1"})
    lua.execute("stop:unregister(); h:unregister()")
    assert as_list(call(lua, "Hook.list")) == []
    assert len(call(lua, "Hook.history", {"point": "BeforeToolExecution"})) >= 2
    error = error_of(lua, "Hook.register('NotAPoint', function() end)")
    assert "BeforeToolExecution" in error.evalue and error.evalue.startswith("Hook.register:")


def test_python_callbacks_work_the_same(py: ScriptRuntime) -> None:
    py.execute(
        "calls = []\n"
        "h = Hook.register('BeforeToolExecution', "
        "lambda ctx: calls.append(ctx['component']) or 'continue', 'high')"
    )
    tool_execute(py, "calculator", {})
    assert py.execute("calls").value == ["calculator"]
    py.execute("h.unregister()")
    tool_execute(py, "calculator", {})
    assert py.execute("calls").value == ["calculator"]


def test_higher_priority_runs_first_and_modified_data_flows_on(lua: ScriptRuntime) -> None:
    lua.execute(
        "order = {}\n"
        "local function add(tag) return function(ctx) order[#order + 1] = tag\n"
        "  local d = ctx.data; d.trail = (d.trail or '') .. tag\n"
        "  return {type = 'modified', data = d} end end\n"
        "Hook.register('BeforeToolExecution', add('low'), 'low')\n"
        "Hook.register('BeforeToolExecution', add('seven'), 7)\n"
        "Hook.register('BeforeToolExecution', add('top'), 'highest')\n"
        "Hook.register('BeforeToolExecution', add('normal'))"
    )
    result = tool_execute(lua, "t", {})
    assert lua.execute("return order").value == ["top", "seven", "normal", "low"]
    assert result == {"trail": "topsevennormallow"}


def test_handles_list_and_unregister(lua: ScriptRuntime) -> None:
    lua.execute(
        "a = Hook.register('SessionStart', function() end)\n"
        "b = Hook.register('SessionEnd', function() end, 'low')"
    )
    listed = call(lua, "Hook.list")
    assert [(h["point"], h["priority"]) for h in listed] == [
        ("SessionStart", 0),
        ("SessionEnd", -50),
    ]
    assert lua.execute("return a:id()").value == listed[0]["id"]
    assert [h["point"] for h in call(lua, "Hook.list", "SessionEnd")] == ["SessionEnd"]
    assert [h["point"] for h in call(lua, "Hook.list", {"point": "SessionStart"})] == [
        "SessionStart"
    ]
    assert lua.execute("return Hook.unregister(a)").value is True
    assert lua.execute("return a:unregister()").value is False
    assert call(lua, "Hook.unregister", listed[1]["id"]) is True
    assert as_list(call(lua, "Hook.list")) == []


def test_history_records_each_execution_newest_first_with_its_outcome(lua: ScriptRuntime) -> None:
    lua.execute(
        "Hook.register('BeforeToolExecution', function() error('callback broke') end, 'high')\n"
        "Hook.register('BeforeToolExecution', function() return 'skip' end)"
    )
    result = tool_execute(lua, "calculator", {"x": 1})
    assert result == {"x": 1}, "an error inside a callback does not break the operation"
    history = call(lua, "Hook.history", {"point": "BeforeToolExecution"})
    assert [h["result"] for h in history] == ["skip", "error"]
    errored = history[1]
    assert "callback broke" in errored["error"]
    assert errored["component"] == "calculator"
    assert errored["context"]["data"] == {"x": 1}
    assert errored["duration_ms"] >= 0
    assert len(call(lua, "Hook.history", {"limit": 1})) == 1
    assert as_list(call(lua, "Hook.history", {"correlation_id": "none-such"})) == []


def test_history_renders_as_an_html_table(lua: ScriptRuntime) -> None:
    lua.execute("Hook.register('BeforeToolExecution', function() end)")
    tool_execute(lua, "t", {})
    html = lua.execute("Hook.history{}").bundle["text/html"]
    assert html.startswith("<table><thead><tr><th>started_at</th><th>point</th>")
    assert "<td>BeforeToolExecution</td><td>t</td><td>continue</td>" in html


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("Hook.register('BeforeStateWrite', 3)", "Hook.register: fn must be a function"),
        (
            "Hook.register('BeforeStateWrite', function() end, 'urgent')",
            "Hook.register: priority must be one of highest, high, normal, low, lowest",
        ),
        (
            "Hook.list({kind = 'x'})",
            "Hook.list: unknown option 'kind'; allowed: hook_point, language, name, point, "
            "priority, tag",
        ),
        ("Hook.history({point = 'Nope'})", "Hook.history: unknown hook point 'Nope'"),
        ("Hook.history({limit = -1})", "Hook.history: limit must be >= 0"),
    ],
)
def test_bad_arguments_raise_naming_the_function(
    lua: ScriptRuntime, code: str, message: str
) -> None:
    assert message in error_of(lua, code).evalue


def test_with_hooks_disabled_the_global_raises_and_operations_run_unhooked(
    make_runtime: MakeRuntime, engine: str
) -> None:
    rt = make_runtime(engine, hooks__enabled=False)
    for function, args in [("Hook.list", []), ("Hook.history", [])]:
        error = call_error(rt, function, *args)
        assert error.evalue == f"{function}: disabled in config (hooks.enabled = false)"
    code = (
        "Hook.register('BeforeStateWrite', function() end)"
        if engine == "lua"
        else "Hook.register('BeforeStateWrite', lambda ctx: None)"
    )
    assert "Hook.register: disabled in config (hooks.enabled = false)" in error_of(rt, code).evalue
    assert call(rt, "State.save", "g", "k", 1) is True


# --- BeforeStateWrite / AfterStateWrite ---------------------------------------------------------


def test_a_cancelled_state_write_leaves_the_stored_value_unchanged(rt: ScriptRuntime) -> None:
    call(rt, "State.save", "g", "k", "original")
    if rt.engine_name == "lua":
        rt.execute(
            "Hook.register('BeforeStateWrite', function(ctx) "
            "if ctx.data.key == 'k' then return {type = 'cancel', reason = 'read-only'} end end)"
        )
    else:
        rt.execute(
            "Hook.register('BeforeStateWrite', lambda ctx: "
            "{'type': 'cancel', 'reason': 'read-only'} if ctx['data']['key'] == 'k' else None)"
        )
    error = call_error(rt, "State.save", "g", "k", "changed")
    assert error.evalue == "State.save: cancelled by hook: read-only"
    assert call(rt, "State.load", "g", "k") == "original"
    assert [h["version"] for h in call(rt, "State.history", "g", "k")] == [1]
    assert "cancelled by hook" in call_error(rt, "State.delete", "g", "k").evalue
    assert call(rt, "State.exists", "g", "k") is True
    assert call(rt, "State.save", "g", "other", 1) is True, "other keys are not guarded"


def test_a_modifying_hook_changes_what_is_stored(lua: ScriptRuntime) -> None:
    lua.execute(
        "Hook.register('BeforeStateWrite', function(ctx)\n"
        "  local d = ctx.data\n"
        "  if d.operation == 'save' then d.value = {wrapped = d.value} end\n"
        "  return {type = 'modified', data = d}\n"
        "end)"
    )
    call(lua, "State.save", "g", "k", 5)
    assert call(lua, "State.load", "g", "k") == {"wrapped": 5}


def test_a_hook_may_redirect_a_write_to_another_key(lua: ScriptRuntime) -> None:
    lua.execute(
        "Hook.register('BeforeStateWrite', function(ctx)\n"
        "  local d = ctx.data; d.key = 'audited:' .. d.key\n"
        "  return {type = 'modified', data = d}\n"
        "end)"
    )
    call(lua, "State.save", "g", "k", 1)
    assert call(lua, "State.list_keys", "g") == ["audited:k"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("d.key = ''", "a BeforeStateWrite hook changed the write: key must be a non-empty"),
        ("d.operation = 'delete'", "changed the write from a save to 'delete'"),
        ("d = 42", "changed the write to integer"),
    ],
)
def test_a_hook_modification_that_breaks_the_write_is_refused_and_nothing_is_stored(
    lua: ScriptRuntime, change: str, message: str
) -> None:
    lua.execute(
        "Hook.register('BeforeStateWrite', function(ctx)\n"
        f"  local d = ctx.data; {change}\n"
        "  return {type = 'modified', data = d}\n"
        "end)"
    )
    error = call_error(lua, "State.save", "g", "k", 1)
    assert error.evalue.startswith("State.save: ") and message in error.evalue
    assert call(lua, "State.exists", "g", "k") is False


def test_after_state_write_sees_the_stored_version_and_shares_the_correlation_id(
    lua: ScriptRuntime,
) -> None:
    lua.execute(
        "seen = {}\n"
        "Hook.register('BeforeStateWrite', function(ctx) seen.before = ctx.correlation_id end)\n"
        "Hook.register('AfterStateWrite', function(ctx)\n"
        "  seen.after = ctx.correlation_id; seen.version = ctx.data.version\n"
        "  seen.op = ctx.data.operation end)"
    )
    call(lua, "State.save", "g", "k", 1)
    call(lua, "State.save", "g", "k", 2)
    seen = lua.execute("return seen").value
    assert seen["version"] == 2 and seen["op"] == "save"
    assert seen["before"] == seen["after"] and seen["before"]
    recorded = call(lua, "Hook.history", {"correlation_id": seen["before"]})
    assert [h["point"] for h in recorded] == ["AfterStateWrite", "BeforeStateWrite"]


def test_clear_is_a_guarded_write_too(lua: ScriptRuntime) -> None:
    call(lua, "State.save", "keep", "a", 1)
    lua.execute(
        "Hook.register('BeforeStateWrite', function(ctx) if ctx.data.operation == 'clear' "
        "then return {type = 'cancel', reason = 'no bulk deletes'} end end)"
    )
    assert "no bulk deletes" in call_error(lua, "State.clear", "keep").evalue
    assert call(lua, "State.load", "keep", "a") == 1


# --- BeforeCodeExecution / AfterCodeExecution ---------------------------------------------------


def test_code_execution_hooks_see_every_run(rt: ScriptRuntime) -> None:
    if rt.engine_name == "lua":
        rt.execute(
            "runs = {}\n"
            "Hook.register('BeforeCodeExecution', function(ctx)\n"
            "  runs[#runs + 1] = ctx.data.name end)\n"
            "Hook.register('AfterCodeExecution', function(ctx)\n"
            "  local d = ctx.data\n"
            "  runs[#runs + 1] = tostring(d.success) .. ':' .. tostring(d.result) end)"
        )
        rt.execute("return 6 * 7", name="[cell 2]")
        runs = rt.execute("return runs", name="[cell 3]").value
    else:
        rt.execute(
            "runs = []\n"
            "Hook.register('BeforeCodeExecution', lambda ctx: runs.append(ctx['data']['name']))\n"
            "Hook.register('AfterCodeExecution', lambda ctx: "
            "runs.append(f\"{ctx['data']['success']}:{ctx['data']['result']}\".lower()))"
        )
        rt.execute("6 * 7", name="[cell 2]")
        runs = rt.execute("list(runs)", name="[cell 3]").value  # a copy: the after-hook appends
    assert runs == ["[cell 2]", "true:42", "[cell 3]"]


def test_a_before_hook_can_rewrite_or_cancel_the_code(lua: ScriptRuntime) -> None:
    lua.execute(
        "Hook.register('BeforeCodeExecution', function(ctx)\n"
        "  if ctx.data.code:find('forbidden') then\n"
        "    return {type = 'cancel', reason = 'policy'}\n"
        "  end\n"
        "  if ctx.data.code == 'return 1' then\n"
        "    local d = ctx.data; d.code = 'return 2'; return {type = 'modified', data = d}\n"
        "  end\n"
        "end)"
    )
    assert lua.execute("return 1").value == 2
    error = error_of(lua, "forbidden = true", name="[cell 9]")
    assert error.evalue == "[cell 9]: cancelled by hook: policy"
    assert lua.execute("return rawget(_G, 'forbid' .. 'den')").value is None, "it never ran"


def test_an_after_hook_sees_failures_and_can_replace_a_result(lua: ScriptRuntime) -> None:
    lua.execute(
        "failures = {}\n"
        "Hook.register('AfterCodeExecution', function(ctx)\n"
        "  if not ctx.data.success then failures[#failures + 1] = ctx.data.error end\n"
        "  if ctx.data.result == 41 then return {type = 'modified', data = {result = 42}} end\n"
        "end)"
    )
    error_of(lua, "error('boom')")
    assert "boom" in lua.execute("return failures[1]").value
    result = lua.execute("return 41")
    assert (result.value, result.bundle["text/plain"]) == (42, "42")


def test_a_before_hook_that_breaks_the_code_field_fails_the_run(lua: ScriptRuntime) -> None:
    lua.execute(
        "Hook.register('BeforeCodeExecution', function(ctx) "
        "return {type = 'modified', data = {code = 5}} end)"
    )
    error = error_of(lua, "x = 1", name="[cell 4]")
    assert error.ename == "ValidationError" and "it must keep `code` a string" in error.evalue


def test_an_interrupt_stops_a_looping_code_execution_hook(lua: ScriptRuntime) -> None:
    lua.execute("h = Hook.register('BeforeCodeExecution', function() while true do end end)")
    timer = threading.Timer(0.3, lua.interrupt)
    timer.start()
    started = time.monotonic()
    error = error_of(lua, "ran = true")
    timer.cancel()
    assert error.ename == "KeyboardInterrupt" and time.monotonic() - started < 5
    hooks = lua.infrastructure.get(HookRegistry)
    for hook in hooks.hooks("BeforeCodeExecution"):
        hooks.unregister(hook.id)
    assert lua.execute("return ran").value is None
    assert lua.execute("return 1 + 1").value == 2, "the runtime stays usable"


def test_an_interrupt_in_a_state_write_hook_stops_the_cell_and_the_write(
    lua: ScriptRuntime,
) -> None:
    lua.execute("Hook.register('BeforeStateWrite', function() while true do end end)")
    timer = threading.Timer(0.3, lua.interrupt)
    timer.start()
    error = error_of(lua, "State.save('g', 'k', 1)\nafter = true")
    timer.cancel()
    assert error.ename == "KeyboardInterrupt"
    hooks = lua.infrastructure.get(HookRegistry)
    for hook in hooks.hooks("BeforeStateWrite"):
        hooks.unregister(hook.id)
    assert call(lua, "State.exists", "g", "k") is False
    assert lua.execute("return after").value is None


def test_a_looping_lua_hook_is_stopped_by_the_time_limit_not_recorded_and_nothing_is_stored(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime("lua", engines__lua__timeout_s=0.5)
    rt.execute('Hook.register("BeforeStateWrite", function() while true do end end)')
    with pytest.raises(ScriptError) as info:
        rt.execute('State.save("g", "k", 1)')
    assert info.value.ename == "TimeoutError"
    assert call(rt, "State.load", "g", "k") is None
    assert as_list(call(rt, "Hook.history", {})) == [], "a stopped hook is not a failed hook"
