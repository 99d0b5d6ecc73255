"""`State` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields, or refuses with the reason; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime

APPENDIX_FUNCTIONS = [
    "save",
    "load",
    "delete",
    "list_keys",
    "workflow_get",
    "workflow_list",
    "agent_get",
    "agent_set",
    "tool_get",
    "tool_set",
    "migrate",
    "get_migration_status",
    "get_schema_versions",
    "create_backup",
    "list_backups",
    "restore_backup",
    "validate_backup",
    "cleanup_backups",
    "get_storage_usage",
]


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(State.{name})") == "function", name


def test_scoped_save_load_delete_list_keys_as_the_appendix_writes_them(
    lua: ScriptRuntime,
) -> None:
    loaded, keys, after = run(
        lua,
        """
        State.save("user:123", "preferences", {theme = "dark", language = "en"})
        State.save("user:123", "temp_state", 1)
        local value = State.load("user:123", "preferences")
        local keys = State.list_keys("user:123")
        State.delete("user:123", "temp_state")
        return value, keys, State.list_keys("user:123")
        """,
    )
    assert loaded == {"theme": "dark", "language": "en"}
    assert keys == ["preferences", "temp_state"]
    assert after == ["preferences"]


def test_workflow_get_and_list_read_workflow_step_keys(lua: ScriptRuntime) -> None:
    step_state, keys, missing = run(
        lua,
        """
        State.save("global", "workflow:workflow-123:validate", {ok = true})
        State.save("global", "workflow:workflow-123:load", {rows = 3})
        State.save("global", "workflow:workflow-9:other", 1)
        local step_state = State.workflow_get("workflow-123", "validate")
        local keys = State.workflow_list("workflow-123")
        return step_state, keys, State.workflow_get("workflow-123", "nope") == nil
        """,
    )
    assert step_state == {"ok": True}
    assert keys == ["load", "validate"]
    assert missing is True


def test_workflow_get_and_list_read_a_workflow_run_by_execution_id(lua: ScriptRuntime) -> None:
    output, steps = run(
        lua,
        """
        local run = Workflow.sequential{name = "calc", steps = {
            {name = "add", fn = function() return 4 end}}}:execute()
        local id = run.execution_id
        return State.workflow_get(id, "add").result, State.workflow_list(id)
        """,
    )
    assert (output, steps) == (4, ["add"])


def test_agent_and_tool_state_as_the_appendix_writes_them(lua: ScriptRuntime) -> None:
    agent_state, tool_state = run(
        lua,
        """
        State.agent_set("agent-456", "memory", {last_interaction = 1700000000})
        State.tool_set("calculator", "history", {last_calc = "2+2=4"})
        return State.agent_get("agent-456", "memory"), State.tool_get("calculator", "history")
        """,
    )
    assert agent_state == {"last_interaction": 1700000000}
    assert tool_state == {"last_calc": "2+2=4"}


def test_get_storage_usage_has_bytes_used_and_entries_count(lua: ScriptRuntime) -> None:
    usage = run(
        lua,
        """
        State.save("user:123", "a", "xy")
        State.save("user:123", "a", "xyz")
        State.save("other", "b", {})
        return State.get_storage_usage()
        """,
    )
    # '"xyz"' is 5 bytes of JSON, '{}' 2
    assert usage == {"bytes_used": 7, "entries_count": 2, "scopes_count": 2, "versions_count": 3}


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ('State.migrate("2.0.0")', "llmspell storage upgrade"),
        ("State.get_migration_status()", "llmspell storage upgrade"),
        ("State.get_schema_versions()", "llmspell storage upgrade"),
        ('State.create_backup("before_upgrade")', "pg_dump"),
        ("State.list_backups()", "pg_dump"),
        ('State.restore_backup("backup_123")', "pg_dump"),
        ('State.validate_backup("backup_123")', "pg_dump"),
        ("State.cleanup_backups(5)", "pg_dump"),
    ],
)
def test_migrations_and_backups_refuse_saying_what_to_use(
    lua: ScriptRuntime, call: str, reason: str
) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, call)
    assert info.value.evalue.startswith(call.split("(")[0] + ": ")
    assert reason in info.value.evalue
