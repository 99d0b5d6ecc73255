"""`Hook` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function and handle
method is there, the 23 hook points either fire or are refused with the reason, and the
documented callback results work; see docs/reference/compatibility.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime, load_config
from llmspell.runtime.infrastructure import Infrastructure

APPENDIX_FUNCTIONS = ["register", "list", "unregister"]
HANDLE_METHODS = ["id", "hook_point", "unregister"]
APPENDIX_POINTS = [
    "SystemStartup",
    "SystemShutdown",
    "BeforeAgentInit",
    "AfterAgentInit",
    "BeforeAgentExecution",
    "AfterAgentExecution",
    "BeforeAgentShutdown",
    "AfterAgentShutdown",
    "AgentError",
    "BeforeToolDiscovery",
    "AfterToolDiscovery",
    "BeforeToolExecution",
    "AfterToolExecution",
    "ToolValidation",
    "ToolError",
    "BeforeWorkflowStart",
    "AfterWorkflowComplete",
    "WorkflowStageTransition",
    "BeforeWorkflowStage",
    "AfterWorkflowStage",
    "WorkflowCheckpoint",
    "WorkflowRollback",
    "WorkflowError",
]
# The appendix's points llmspell reaches (the compatibility table says where each fires) ...
FIRED = {
    "SystemShutdown",
    "BeforeAgentExecution",
    "AfterAgentExecution",
    "AgentError",
    "BeforeToolExecution",
    "AfterToolExecution",
    "ToolError",
    "BeforeWorkflowStart",
    "AfterWorkflowComplete",
    "BeforeWorkflowStage",
    "AfterWorkflowStage",
    "WorkflowError",
}
# ... and those it never reaches, which registration refuses with the reason.
REFUSED = set(APPENDIX_POINTS) - FIRED
PRIORITIES = ["highest", "high", "normal", "low", "lowest"]


def test_the_appendix_lists_23_points() -> None:
    assert len(APPENDIX_POINTS) == 23 and len(REFUSED) == 11


def test_every_appendix_function_and_handle_method_is_there(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Hook.{name})") == "function", name
    for name in HANDLE_METHODS:
        code = f'return type(Hook.register("BeforeToolExecution", function() end).{name})'
        assert run(lua, code) == "function", name


def test_the_appendix_example_runs_and_its_hook_is_called(lua: ScriptRuntime) -> None:
    result = lua.execute(
        """
        local handle = Hook.register("BeforeToolExecution", function(context)
            print("Tool executing:", context.component, context.data.input)
            return "continue"
        end, "normal")
        return Tool.execute("calculator", {input = "2+2"}).result
        """
    )
    assert result.value == 4
    assert result.stdout == "Tool executing:\tcalculator\t2+2\n"


@pytest.mark.parametrize("point", sorted(FIRED))
def test_a_point_llmspell_reaches_registers(lua: ScriptRuntime, point: str) -> None:
    assert run(lua, f'return Hook.register("{point}", function() end):hook_point()') == point


@pytest.mark.parametrize("point", sorted(REFUSED))
def test_a_point_llmspell_never_reaches_is_refused_with_the_reason(
    lua: ScriptRuntime, point: str
) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, f'Hook.register("{point}", function() end)')
    assert info.value.evalue.startswith(
        f"Hook.register: hook point '{point}' is never reached in llmspell: "
    )
    assert run(lua, "return #Hook.list()") == 0


def test_system_shutdown_hooks_run_when_the_runtime_closes(isolated_env: Path) -> None:
    config = load_config(profile="memory", env={}).config
    infra = Infrastructure.from_config(config)
    try:
        rt = ScriptRuntime(config, "lua", infra)
        result = rt.execute(
            """Hook.register("SystemShutdown", function(context)
                print("closing", context.point, context.data.reason)
            end)"""
        )
        assert result.stdout == ""
        rt.close()
        assert result.stdout == "closing\tSystemShutdown\tclose\n"
        rt.close()  # once only
        assert result.stdout.count("closing") == 1
    finally:
        infra.close()


@pytest.mark.parametrize("priority", PRIORITIES)
def test_every_named_priority_registers(lua: ScriptRuntime, priority: str) -> None:
    handle = f'Hook.register("BeforeToolExecution", function() end, "{priority}")'
    assert run(lua, f"return {handle}:hook_point()") == "BeforeToolExecution"
    assert run(lua, f'return #Hook.list({{priority = "{priority}"}})') == 1


@pytest.mark.parametrize(
    ("returned", "outcome"),
    [
        ('"continue"', "continue"),
        ('"skip"', "skip"),
        ('"skipped"', "skip"),
        ('"cancel"', "cancel"),
        ('{type = "modified", data = {input = "3*3"}}', "modified"),
        ('{type = "replace", data = {input = "3*3"}}', "modified"),
    ],
)
def test_the_documented_callback_results(lua: ScriptRuntime, returned: str, outcome: str) -> None:
    code = f"""
        Hook.register("BeforeToolExecution", function(context) return {returned} end)
        local ok, res = pcall(Tool.execute, "calculator", {{input = "2+2"}})
        return ok, ok and res.result or tostring(res), Hook.history({{limit = 1}})[1].result
    """
    ok, value, recorded = run(lua, code)
    assert recorded == outcome
    if outcome == "cancel":
        assert not ok and "cancelled by hook: no reason given" in value
    elif outcome == "modified":
        assert ok and value == 9
    else:
        assert ok and value == 4


@pytest.mark.parametrize(
    ("returned", "why"),
    [
        ('{type = "redirect", target = "other"}', "cannot be redirected"),
        ('{type = "retry", delay_ms = 1000, max_attempts = 3}', "does not retry"),
    ],
)
def test_redirect_and_retry_are_recorded_as_errors_saying_why(
    lua: ScriptRuntime, returned: str, why: str
) -> None:
    # a hook's error does not stop the operation; the history says what was wrong
    value, recorded, error = run(
        lua,
        f"""
        Hook.register("BeforeToolExecution", function(context) return {returned} end)
        local res = Tool.execute("calculator", {{input = "2+2"}})
        local h = Hook.history({{limit = 1}})[1]
        return res.result, h.result, h.error
        """,
    )
    assert (value, recorded) == (4, "error")
    assert why in error


def test_list_takes_nothing_a_point_or_the_complex_filter(lua: ScriptRuntime) -> None:
    counts = run(
        lua,
        """
        Hook.register("BeforeToolExecution", function() end, "high")
        Hook.register("BeforeToolExecution", function() end, "low")
        Hook.register("AfterToolExecution", function() end, "high")
        return {
            #Hook.list(),
            #Hook.list("BeforeToolExecution"),
            #Hook.list({hook_point = "BeforeToolExecution", language = "lua", priority = "high"}),
            #Hook.list({hook_point = "BeforeToolExecution", tag = "security"}),
        }
        """,
    )
    assert counts == [3, 2, 1, 0]


def test_an_unknown_list_filter_is_refused_by_name(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, 'Hook.list({kind = "x"})')
    assert info.value.evalue == (
        "Hook.list: unknown option 'kind'; allowed: hook_point, language, name, point, "
        "priority, tag"
    )


def test_unregister_by_hook_unregister_or_the_handle(lua: ScriptRuntime) -> None:
    left = run(
        lua,
        """
        local a = Hook.register("BeforeToolExecution", function() end)
        local b = Hook.register("BeforeToolExecution", function() end)
        local removed = {Hook.unregister(a), b:unregister()}
        return {removed[1], removed[2], #Hook.list()}
        """,
    )
    assert left == [True, True, 0]


def test_handle_id_and_hook_point(lua: ScriptRuntime) -> None:
    same, point = run(
        lua,
        """
        local handle = Hook.register("AfterToolExecution", function() end)
        local id = handle:id()
        local point = handle:hook_point()
        return Hook.list()[1].id == id, point
        """,
    )
    assert (same, point) == (True, "AfterToolExecution")
