"""`Debug` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments and returns the documented fields (see
docs/reference/compatibility.md). No test here depends on how long anything takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config

APPENDIX_FUNCTIONS = [
    "log", "trace", "debug", "info", "warn", "error", "logWithData", "timer", "setLevel",
    "getLevel", "setEnabled", "isEnabled", "addModuleFilter", "clearModuleFilters",
    "removeModuleFilter", "setDefaultFilterEnabled", "addAdvancedFilter", "getFilterSummary",
    "getCapturedEntries", "clearCaptured", "dump", "dumpCompact", "dumpVerbose",
    "dumpWithOptions", "performanceReport", "memoryStats", "jsonReport", "flameGraph",
    "memorySnapshot", "recordEvent", "stackTrace", "stackTraceJson",
]  # fmt: skip


def stderr(rt: ScriptRuntime, code: str) -> str:
    return rt.execute(code).stderr


def error(rt: ScriptRuntime, code: str) -> str:
    with pytest.raises(ScriptError) as info:
        rt.execute(code)
    return info.value.evalue


@pytest.mark.parametrize("name", APPENDIX_FUNCTIONS)
def test_every_appendix_debug_function_is_there(lua: ScriptRuntime, name: str) -> None:
    assert run(lua, f"return type(Debug.{name})") == "function"


# --- logging ------------------------------------------------------------------------------------


def test_debug_log_takes_level_message_and_module(lua: ScriptRuntime) -> None:
    out = stderr(lua, 'Debug.log("info", "Processing started", "processor")')
    assert out == "[INFO processor] Processing started\n"


@pytest.mark.parametrize(
    ("function", "label"),
    [
        ("trace", "TRACE"),
        ("debug", "DEBUG"),
        ("info", "INFO"),
        ("warn", "WARN"),
        ("error", "ERROR"),
    ],
)
def test_each_level_function_takes_a_module(lua: ScriptRuntime, function: str, label: str) -> None:
    run(lua, 'Debug.setLevel("trace")')
    out = stderr(lua, f'Debug.{function}("Detailed info", "module")')
    assert out == f"[{label} module] Detailed info\n"


def test_level_functions_still_work_without_a_module(lua: ScriptRuntime) -> None:
    assert (
        stderr(lua, 'Debug.warn("Deprecated function used")') == "[WARN] Deprecated function used\n"
    )


def test_log_with_data_shows_and_captures_the_data(lua: ScriptRuntime) -> None:
    code = 'Debug.logWithData("info", "Request processed", {duration = 1500, status = 200}, "api")'
    out = stderr(lua, code)
    assert out == '[INFO api] Request processed {"duration": 1500, "status": 200}\n'
    (entry,) = run(lua, "return Debug.getCapturedEntries(1)")
    assert entry["data"] == {"duration": 1500, "status": 200}
    assert entry["module"] == "api"


def test_log_with_data_refuses_data_that_is_not_plain(lua: ScriptRuntime) -> None:
    message = error(lua, 'Debug.logWithData("info", "m", {f = print})')
    assert message.startswith("Debug.logWithData: data")


# --- timers -------------------------------------------------------------------------------------


def test_timer_stop_lap_and_elapsed_return_milliseconds(lua: ScriptRuntime) -> None:
    code = (
        'local timer = Debug.timer("operation")\n'
        'local lap = timer:lap("parsed")\n'
        "local running = timer:elapsed()\n"
        "local duration = timer:stop()\n"
        "return type(lap), type(running), type(duration), timer:stop() == duration, timer:laps()"
    )
    lap, running, duration, same, laps = run(lua, code)
    assert (lap, running, duration, same) == ("number", "number", "number", True)
    assert [entry["name"] for entry in laps] == ["parsed"]


def test_laps_without_a_name_are_numbered(lua: ScriptRuntime) -> None:
    code = 'local t = Debug.timer("t") t:lap() t:lap() return t:laps()'
    assert [lap["name"] for lap in run(lua, code)] == ["lap 1", "lap 2"]


# --- configuration ------------------------------------------------------------------------------


def test_set_level_and_get_level(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.setLevel("debug")')
    assert run(lua, "local level = Debug.getLevel() return level") == "debug"
    assert stderr(lua, 'Debug.debug("shown")') == "[DEBUG] shown\n"


def test_set_enabled_false_silences_every_level(lua: ScriptRuntime) -> None:
    assert run(lua, "return Debug.isEnabled()") is True
    run(lua, "Debug.setEnabled(false)")
    assert run(lua, "if Debug.isEnabled() then return 1 end return 0") == 0
    assert stderr(lua, 'Debug.error("hidden") Debug.log("warn", "hidden too")') == ""
    run(lua, "Debug.setEnabled(true)")
    assert stderr(lua, 'Debug.error("back")') == "[ERROR] back\n"


def test_set_enabled_takes_only_a_boolean(lua: ScriptRuntime) -> None:
    assert error(lua, 'Debug.setEnabled("yes")') == (
        "Debug.setEnabled: enabled must be a boolean, got string"
    )


# --- filtering ----------------------------------------------------------------------------------


def test_module_filters_hide_and_show_by_wildcard(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.addModuleFilter("api.*", true) Debug.addModuleFilter("verbose.*", false)')
    out = stderr(lua, 'Debug.info("a", "api.http") Debug.info("b", "verbose.x") Debug.info("c")')
    assert out == "[INFO api.http] a\n[INFO] c\n"


def test_remove_and_clear_module_filters(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.addModuleFilter("api.*", false) Debug.addModuleFilter("db", false)')
    assert run(lua, 'return Debug.removeModuleFilter("api.*")') is True
    assert stderr(lua, 'Debug.info("a", "api.x") Debug.info("b", "db")') == "[INFO api.x] a\n"
    run(lua, "Debug.clearModuleFilters()")
    assert stderr(lua, 'Debug.info("b", "db")') == "[INFO db] b\n"
    assert run(lua, "return Debug.getFilterSummary().total_rules") == 0


def test_default_filter_decides_for_modules_no_rule_matches(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.setDefaultFilterEnabled(false) Debug.addModuleFilter("api.*", true)')
    out = stderr(lua, 'Debug.info("a", "api.x") Debug.info("b", "other")')
    assert out == "[INFO api.x] a\n"


def test_advanced_filters_take_wildcard_and_regex_patterns(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.addAdvancedFilter("api.*", "wildcard", true)')
    run(lua, 'Debug.addAdvancedFilter("^core\\\\..*", "regex", false)')
    out = stderr(
        lua, 'Debug.info("a", "core.db") Debug.info("b", "api.x") Debug.info("c", "cored")'
    )
    assert out == "[INFO api.x] b\n[INFO cored] c\n"


def test_advanced_filters_refuse_an_unknown_pattern_type_and_a_bad_regex(
    lua: ScriptRuntime,
) -> None:
    assert error(lua, 'Debug.addAdvancedFilter("x", "glob", true)') == (
        "Debug.addAdvancedFilter: pattern_type must be one of exact, wildcard, hierarchical, "
        "regex, got 'glob'"
    )
    message = error(lua, 'Debug.addAdvancedFilter("(", "regex", true)')
    assert message.startswith("Debug.addAdvancedFilter: invalid regex pattern '('")


def test_filter_summary_counts_rules(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.addModuleFilter("api.*", true) Debug.addModuleFilter("verbose.*", false)')
    summary = run(lua, "local summary = Debug.getFilterSummary() return summary")
    assert summary["total_rules"] == 2
    assert summary["enabled_rules"] == 1
    assert summary["disabled_rules"] == 1
    assert summary["default_enabled"] is True
    assert summary["rules"][0] == {"pattern": "api.*", "pattern_type": "wildcard", "enabled": True}


# --- capture ------------------------------------------------------------------------------------


def test_captured_entries_have_timestamp_level_and_message(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.info("one") Debug.warn("two", "m") Debug.debug("not shown, not kept")')
    entries = run(lua, "return Debug.getCapturedEntries(100)")
    assert [(e["level"], e["message"]) for e in entries] == [("info", "one"), ("warn", "two")]
    assert entries[1]["module"] == "m"
    assert entries[0]["timestamp"].endswith("Z")
    assert [e["message"] for e in run(lua, "return Debug.getCapturedEntries(1)")] == ["two"]
    code = "local n = 0 for i, entry in ipairs(Debug.getCapturedEntries(100)) do n = i end return n"
    assert run(lua, code) == 2


def test_clear_captured_forgets_the_entries(lua: ScriptRuntime) -> None:
    run(lua, 'Debug.info("one") Debug.clearCaptured()')
    assert run(lua, "return #Debug.getCapturedEntries()") == 0


# --- dumps --------------------------------------------------------------------------------------


def test_dump_takes_a_label(lua: ScriptRuntime) -> None:
    assert run(lua, 'return Debug.dump({x = 1}, "Configuration")') == "Configuration: {x = 1}"


def test_dump_compact_is_one_line(lua: ScriptRuntime) -> None:
    text = run(lua, 'return Debug.dumpCompact({list = {1, 2}, name = "n"}, "Data")')
    assert text == 'Data: {list = {1, 2}, name = "n"}'


def test_dump_verbose_shows_types(lua: ScriptRuntime) -> None:
    text = run(lua, 'return Debug.dumpVerbose({n = 1, s = "x"}, "Object")')
    assert text == 'Object: {\n  n = 1 --[[number]],\n  s = "x" --[[string]]\n}'


def test_dump_with_options_applies_each_documented_option(lua: ScriptRuntime) -> None:
    code = (
        'return Debug.dumpWithOptions({a = {b = {c = 1}}, s = "abcdef"}, {\n'
        "  max_depth = 2, indent_size = 4, max_string_length = 3,\n"
        "  show_types = true, show_addresses = false\n"
        '}, "Custom")'
    )
    assert run(lua, code) == (
        'Custom: {\n    a = {\n        b = {...}\n    },\n    s = "abc...(3 more)" --[[string]]\n}'
    )


def test_dump_with_options_refuses_unknown_options_and_addresses(lua: ScriptRuntime) -> None:
    assert error(lua, "Debug.dumpWithOptions({}, {colour = true})").startswith(
        "Debug.dumpWithOptions: unknown option 'colour'; allowed: indent_size, max_depth"
    )
    assert error(lua, "Debug.dumpWithOptions({}, {show_addresses = true})").startswith(
        "Debug.dumpWithOptions: show_addresses must be false"
    )


# --- performance --------------------------------------------------------------------------------


def test_performance_report_lists_timers_laps_and_events(lua: ScriptRuntime) -> None:
    code = (
        'local t = Debug.timer("timer-123") t:lap("parse")\n'
        'Debug.recordEvent("timer-123", "checkpoint", {step = 5})\n'
        "local report = Debug.performanceReport() return report"
    )
    report = run(lua, code)
    assert report.startswith("Performance report\n  timer-123: ")
    assert "    lap parse: " in report
    assert "    event checkpoint at " in report


def test_record_event_names_the_timers_when_there_is_no_such_timer(lua: ScriptRuntime) -> None:
    assert error(lua, 'Debug.recordEvent("timer-123", "checkpoint", {step = 5})') == (
        "Debug.recordEvent: no timer named 'timer-123'; timers: none yet "
        "(Debug.timer(name) starts one)"
    )


def test_json_report_is_json_with_the_timers(lua: ScriptRuntime) -> None:
    code = 'local t = Debug.timer("op") t:lap("a") Debug.recordEvent("op", "e", {step = 5})'
    run(lua, code)
    report = json.loads(run(lua, "local json = Debug.jsonReport() return json"))
    (timer,) = report["timers"]
    assert timer["name"] == "op"
    assert timer["running"] is True
    assert [lap["name"] for lap in timer["laps"]] == ["a"]
    assert timer["events"][0]["metadata"] == {"step": 5}
    assert report["level"] == "info"


def test_flame_graph_is_folded_stacks_of_the_timers(lua: ScriptRuntime) -> None:
    run(lua, 'local t = Debug.timer("op") t:lap("parse") t:stop()')
    lines = run(lua, "local flame_data = Debug.flameGraph() return flame_data").splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == ["op", "op;parse"]
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in lines)


def test_memory_stats_has_used_and_allocated_bytes(lua: ScriptRuntime) -> None:
    stats = run(lua, "local stats = Debug.memoryStats() return stats")
    assert stats["used_bytes"] > 0
    assert stats["allocated_bytes"] > 0


def test_memory_snapshot_has_a_timestamp_and_the_running_timers(lua: ScriptRuntime) -> None:
    code = 'local a = Debug.timer("a") Debug.timer("b"):stop() return Debug.memorySnapshot()'
    snapshot = run(lua, code)
    assert isinstance(snapshot["timestamp_secs"], int)
    assert snapshot["active_trackers"] == 1


# --- stack traces -------------------------------------------------------------------------------

TRACE_CODE = """
local function inner(a, b)
  local c = {1}
  local trace = Debug.stackTrace({
    max_depth = 50, capture_locals = true, capture_upvalues = false, include_source = true
  })
  return trace
end
local function outer()
  local t = inner(1, "x")
  return t
end
local trace = outer()
return trace
"""


def test_stack_trace_lists_the_callers_frames_with_their_locals(lua: ScriptRuntime) -> None:
    trace = run(lua, TRACE_CODE)
    assert trace["depth"] == 3
    assert trace["truncated"] is False
    inner, outer, main = trace["frames"]
    assert (inner["name"], inner["line"], inner["source"]) == ("inner", 4, "script")
    assert inner["locals"] == [
        {"name": "a", "value": 1},
        {"name": "b", "value": "x"},
        {"name": "c", "value": "<table>"},
    ]
    assert "upvalues" not in inner
    assert (outer["name"], outer["line"]) == ("outer", 10)
    assert main["what"] == "main"


def test_stack_trace_options_limit_depth_and_leave_out_the_source(lua: ScriptRuntime) -> None:
    code = TRACE_CODE.replace("max_depth = 50", "max_depth = 1").replace(
        "include_source = true", "include_source = false"
    )
    trace = run(lua, code)
    assert trace["depth"] == 1
    assert trace["truncated"] is True
    assert "source" not in trace["frames"][0]


def test_stack_trace_captures_upvalues_when_asked(lua: ScriptRuntime) -> None:
    code = (
        'local secret = "s"\n'
        "local function f()\n"
        "  local _ = secret\n"
        "  local trace = Debug.stackTrace({capture_upvalues = true})\n"
        "  return trace\n"
        "end\n"
        "local trace = f()\n"
        "return trace"
    )
    frame = run(lua, code)["frames"][0]
    assert {"name": "secret", "value": "s"} in frame["upvalues"]


def test_stack_trace_refuses_unknown_options(lua: ScriptRuntime) -> None:
    assert error(lua, "Debug.stackTrace({colour = true})").endswith(
        'Debug.stackTrace: unknown option "colour"; allowed: capture_locals, '
        "capture_upvalues, include_source, max_depth"
    )
    assert error(lua, 'Debug.stackTrace({max_depth = "all"})').endswith(
        "Debug.stackTrace: max_depth must be a number, got string"
    )


def test_stack_trace_json_is_the_trace_as_json(lua: ScriptRuntime) -> None:
    code = "local function f() local j = Debug.stackTraceJson() return j end local j = f() return j"
    trace = json.loads(run(lua, code))
    assert [frame["name"] for frame in trace["frames"]] == ["f", "main chunk"]
    assert trace["depth"] == 2


def test_stack_trace_in_the_python_engine_lists_script_frames_only(isolated_env: Path) -> None:
    code = (
        "def inner(a):\n"
        "    return Debug.stackTrace({'capture_locals': True})\n"
        "def outer():\n"
        "    return inner(1)\n"
        "outer()\n"
    )
    config = load_config(profile="memory", env={}).config
    with ScriptRuntime.with_engine(config, "python") as py:
        trace = py.execute(code).value
    assert [frame["name"] for frame in trace["frames"]] == ["inner", "outer", "<module>"]
    assert trace["frames"][0]["locals"] == [{"name": "a", "value": 1}]
