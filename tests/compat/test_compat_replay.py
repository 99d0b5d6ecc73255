"""`Replay` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function and table is
there, takes the documented arguments (the appendix's examples run as written) and returns the
documented fields; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime

SESSION = "0b5c3c52-6a42-4f0e-9a57-4b1f2f9f7a11"
# A session with one recorded BeforeStateWrite; the hook now registered remembers the
# `temperature` of each context it is called with.
RECORDED = f"""
Session.create({{id = "{SESSION}"}})
Session.set_current("{SESSION}")
Hook.register("BeforeStateWrite", function(ctx) return "continue" end)
State.save("user:1", "k", 1)
Session.set_current(nil)
for _, h in ipairs(Hook.list()) do Hook.unregister(h.id) end
seen = {{}}
Hook.register("BeforeStateWrite", function(ctx)
  seen[#seen + 1] = ctx.data.params and ctx.data.params.temperature or "none"
  return "continue"
end)
"""


def test_every_appendix_function_and_table_is_there(lua: ScriptRuntime) -> None:
    kinds = run(
        lua,
        """
        return {type(Replay.modes), type(Replay.create_config), type(Replay.create_modification),
          type(Replay.schedules), type(Replay.schedules.once), type(Replay.schedules.interval),
          type(Replay.schedules.cron), type(Replay.create_comparator)}
        """,
    )
    assert kinds == ["table", "function", "function", "table"] + ["function"] * 4


def test_modes_are_the_four_documented_names(lua: ScriptRuntime) -> None:
    modes = run(
        lua,
        """
        return {Replay.modes.exact, Replay.modes.modified, Replay.modes.simulate,
          Replay.modes.debug}
        """,
    )
    assert modes == ["exact", "modified", "simulate", "debug"]


def test_a_modified_config_replays_with_its_modification(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    result, seen, mods = run(
        lua,
        f"""
        local config = Replay.create_config(Replay.modes.modified)
        config:add_modification("params.temperature", 0.5, true)
        config:add_modification("params.ignored", 1, false)
        local result = config:replay("{SESSION}")
        return result, seen, config:get_modifications()
        """,
    )
    assert (result["hooks_replayed"], result["successful_replays"]) == (1, 1)
    assert result["session_id"] == SESSION
    assert seen == [0.5]
    assert [m["path"] for m in mods] == ["params.temperature", "params.ignored"]


def test_an_exact_config_replays_the_recorded_context(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    mode, seen = run(
        lua,
        f"""
        local config = Replay.create_config(Replay.modes.exact)
        config:replay("{SESSION}", {{stop_on_error = true}})
        return config:get_mode(), seen
        """,
    )
    assert (mode, seen) == ("exact", ["none"])


def test_create_modification_returns_path_value_enabled(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    mod, seen = run(
        lua,
        f"""
        local mod = Replay.create_modification("params.max_tokens", 1000, true)
        Session.replay("{SESSION}", {{mode = "modified", modifications = {{
          Replay.create_modification("params.temperature", 0.1)}}}})
        local config = Replay.create_config("modified"):add_modification(mod)
        return mod, seen
        """,
    )
    assert mod == {"path": "params.max_tokens", "value": 1000, "enabled": True}
    assert seen == [0.1]


def test_debug_mode_replays_and_traces_each_hook_call(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    result = run(lua, f'return Replay.create_config(Replay.modes.debug):replay("{SESSION}")')
    assert (result["hooks_replayed"], result["successful_replays"]) == (1, 1)
    (step,) = result["trace"]
    assert step["point"] == "BeforeStateWrite"
    assert (step["result"], step["recorded_result"]) == ("continue", "continue")
    assert step["context"]["data"]["key"] == "k"


def test_modifications_outside_modified_mode_are_refused(lua: ScriptRuntime) -> None:
    lua.execute(RECORDED)
    with pytest.raises(ScriptError) as info:
        run(
            lua,
            f"""Session.replay("{SESSION}", {{modifications = {{
              Replay.create_modification("params.t", 1)}}}})""",
        )
    assert "modifications are only applied in mode 'modified'" in info.value.evalue


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ('Replay.create_config("fast")', "Replay.create_config: mode must be one of exact,"),
        ('Replay.create_modification("", 1)', "Replay.create_modification: modifications[1].path"),
        ('Replay.create_modification("a..b", 1)', "must be dotted names, got 'a..b'"),
        ('Replay.create_modification("a", 1, "yes")', "enabled must be a boolean, got string"),
        ("Replay.schedules.once(-1)", "Replay.schedules.once: delay_seconds must be >= 0"),
        ("Replay.schedules.interval(0, 0, 1)", "Replay.schedules.interval: interval must be > 0"),
        ("Replay.schedules.interval(0, 5, 0)", "max_executions must be >= 1, got 0"),
        ('Replay.schedules.cron("every minute")', "Replay.schedules.cron: expression must be 5"),
    ],
)
def test_bad_arguments_are_refused_naming_the_function(
    lua: ScriptRuntime, code: str, message: str
) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, code)
    assert message in info.value.evalue


def test_schedules_describe_the_appendix_forms(lua: ScriptRuntime) -> None:
    once, interval, cron = run(
        lua,
        """
        return Replay.schedules.once(5.0), Replay.schedules.interval(0, 60, 10),
          Replay.schedules.cron("0 */5 * * * *")
        """,
    )
    assert once == {"type": "once", "delay_seconds": 5.0}
    assert interval == {
        "type": "interval",
        "initial_delay": 0.0,
        "interval": 60.0,
        "max_executions": 10,
    }
    assert cron["type"] == "cron"
    assert cron["fields"] == ["0", "*/5", "*", "*", "*", "*"]


def test_comparator_compares_tables_and_json_text(lua: ScriptRuntime) -> None:
    same, other = run(
        lua,
        """
        local comparator = Replay.create_comparator()
        local same = comparator:compare_json({a = 1, b = {2, 3}}, '{"a": 1, "b": [2, 3]}')
        local other = comparator:compare_json({a = 1, b = {2, 3}}, {a = 1, b = {2, 4}})
        return same, other
        """,
    )
    assert (same["identical"], same["similarity_score"], same["summary"]) == (
        True,
        1.0,
        "identical",
    )
    assert not same["differences"]
    assert other["identical"] is False
    assert other["similarity_score"] == pytest.approx(2 / 3, abs=1e-3)
    assert other["differences"] == [{"path": "b[2]", "original": 3, "replayed": 4}]
    assert other["summary"].startswith("1 of 3 values differ")
