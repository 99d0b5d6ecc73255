"""The State global through both engines: scoped values, versions, helpers and validation."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime

RFC3339_UTC_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_save_then_load_returns_the_value(rt: ScriptRuntime) -> None:
    value = {"retries": 3, "hosts": ["a", "b"], "ratio": 0.5, "on": True, "name": "x"}
    assert call(rt, "State.save", "global", "config", value) is True
    assert call(rt, "State.load", "global", "config") == value


def test_scopes_are_separate(rt: ScriptRuntime) -> None:
    call(rt, "State.save", "global", "k", 1)
    call(rt, "State.save", "user:7", "k", 2)
    assert call(rt, "State.load", "global", "k") == 1
    assert call(rt, "State.load", "user:7", "k") == 2
    assert call(rt, "State.load", "custom:x", "k") is None


def test_delete_and_exists(rt: ScriptRuntime) -> None:
    call(rt, "State.save", "global", "k", "v")
    assert call(rt, "State.exists", "global", "k") is True
    assert call(rt, "State.delete", "global", "k") is True
    assert call(rt, "State.delete", "global", "k") is False
    assert call(rt, "State.exists", "global", "k") is False
    assert call(rt, "State.load", "global", "k") is None


def test_saving_a_false_or_zero_value_still_exists(rt: ScriptRuntime) -> None:
    call(rt, "State.save", "global", "off", False)
    call(rt, "State.save", "global", "zero", 0)
    assert call(rt, "State.load", "global", "off") is False
    assert call(rt, "State.load", "global", "zero") == 0
    assert call(rt, "State.exists", "global", "off") is True


def test_list_keys_is_sorted_and_filters_by_prefix(rt: ScriptRuntime) -> None:
    for key in ["b", "a:2", "a:1", "c"]:
        call(rt, "State.save", "s", key, 1)
    call(rt, "State.save", "other", "a:9", 1)
    assert call(rt, "State.list_keys", "s") == ["a:1", "a:2", "b", "c"]
    assert call(rt, "State.list_keys", "s", "a:") == ["a:1", "a:2"]
    assert as_list(call(rt, "State.list_keys", "s", "zz")) == []
    assert as_list(call(rt, "State.list_keys", "empty")) == []


def test_clear_removes_only_that_scope_and_counts(rt: ScriptRuntime) -> None:
    for key in ["a", "b", "c"]:
        call(rt, "State.save", "s", key, 1)
    call(rt, "State.save", "keep", "a", 1)
    assert call(rt, "State.clear", "s") == 3
    assert call(rt, "State.clear", "s") == 0
    assert call(rt, "State.load", "keep", "a") == 1


def test_history_lists_versions_current_first_with_utc_microsecond_times(
    rt: ScriptRuntime,
) -> None:
    for value in ["v1", "v2", "v3"]:
        call(rt, "State.save", "global", "k", value)
    history = call(rt, "State.history", "global", "k")
    assert [h["value"] for h in history] == ["v3", "v2", "v1"]
    assert [h["version"] for h in history] == [3, 2, 1]
    times = [h["updated_at"] for h in history]
    assert all(RFC3339_UTC_MICROS.match(t) for t in times), times
    assert times == sorted(times, reverse=True)
    assert [h["value"] for h in call(rt, "State.history", "global", "k", 2)] == ["v3", "v2"]
    assert as_list(call(rt, "State.history", "global", "never")) == []


def test_history_limit_must_be_positive(rt: ScriptRuntime) -> None:
    err = call_error(rt, "State.history", "global", "k", 0)
    assert err.evalue == "State.history: limit must be >= 1, got 0"


def test_agent_helpers_use_the_agent_scope(rt: ScriptRuntime) -> None:
    assert call(rt, "State.agent_set", "planner", "goal", "ship") is True
    assert call(rt, "State.agent_get", "planner", "goal") == "ship"
    assert call(rt, "State.load", "agent:planner", "goal") == "ship"


def test_tool_helpers_use_the_tool_scope(rt: ScriptRuntime) -> None:
    assert call(rt, "State.tool_set", "calc", "last", 42) is True
    assert call(rt, "State.tool_get", "calc", "last") == 42
    assert call(rt, "State.load", "tool:calc", "last") == 42


def test_workflow_helpers_read_workflow_state_not_the_kv_scope(rt: ScriptRuntime) -> None:
    code = {
        "lua": 'run = Workflow.sequential{name = "w", steps = {{name = "fetch", fn = function() '
        'return {ok = true} end}, {name = "analyse", fn = function() return 3 end}}}:execute()',
        "python": 'run = Workflow.sequential({"name": "w", "steps": [{"name": "fetch", '
        '"fn": lambda i: {"ok": True}}, {"name": "analyse", "fn": lambda i: 3}]}).execute()',
    }[rt.engine_name]
    rt.execute(code)
    run_id = rt.execute(
        "return run.execution_id" if rt.engine_name == "lua" else "run['execution_id']"
    ).value
    assert call(rt, "State.workflow_get", run_id, "fetch") == {
        "success": True,
        "result": {"ok": True},
    }
    assert call(rt, "State.workflow_list", run_id) == ["analyse", "fetch"]
    call(rt, "State.save", f"workflow:{run_id}", "other", 1)
    assert call(rt, "State.workflow_list", run_id) == ["analyse", "fetch"], (
        "the kv scope is not read"
    )
    assert call(rt, "State.workflow_get", run_id, "other") is None
    assert as_list(call(rt, "State.workflow_list", "run-2")) == []


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "State.save: key must be a non-empty string"),
        ("k" * 257, "State.save: key must be 1-256 characters, got 257"),
        ("a\x00b", "State.save: key must not contain NUL, CR or LF"),
        ("a\rb", "State.save: key must not contain NUL, CR or LF"),
        ("a\nb", "State.save: key must not contain NUL, CR or LF"),
    ],
    ids=["empty", "too-long", "nul", "cr", "lf"],
)
def test_bad_keys_are_rejected_naming_the_function(
    rt: ScriptRuntime, key: str, message: str
) -> None:
    err = call_error(rt, "State.save", "global", key, 1)
    assert err.ename == "ValidationError"
    assert err.evalue.startswith(message)


def test_a_key_of_256_characters_is_allowed(rt: ScriptRuntime) -> None:
    call(rt, "State.save", "global", "k" * 256, 1)
    assert call(rt, "State.load", "global", "k" * 256) == 1


def test_bad_scope_and_non_string_key_are_rejected(rt: ScriptRuntime) -> None:
    assert call_error(rt, "State.load", "", "k").evalue == (
        "State.load: scope must be a non-empty string"
    )
    err = call_error(rt, "State.exists", "global", 5)
    assert err.evalue == "State.exists: key must be a non-empty string, got integer"
    err = call_error(rt, "State.list_keys", {"a": 1})
    assert err.evalue == "State.list_keys: scope must be a non-empty string, got table"


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("State.agent_set", ("a", "", 1)),
        ("State.agent_get", ("a", "")),
        ("State.tool_set", ("t", "", 1)),
        ("State.workflow_get", ("w", "")),
        ("State.agent_set", ("", "k", 1)),
    ],
)
def test_helper_errors_name_the_helper(rt: ScriptRuntime, function: str, args: tuple) -> None:
    err = call_error(rt, function, *args)
    assert err.evalue.startswith(f"{function}: ")


def test_values_over_the_size_limit_are_rejected_and_the_old_value_kept(
    make_runtime: MakeRuntime, engine: str
) -> None:
    rt = make_runtime(engine, storage__max_value_mb=0.001)  # 1048 bytes
    call(rt, "State.save", "global", "doc", "small")
    err = call_error(rt, "State.save", "global", "doc", "x" * 2000)
    assert err.ename == "ValidationError"
    assert err.evalue.startswith("State.save: value is 2002 bytes as JSON; the limit is 1048 bytes")
    assert "storage.max_value_mb" in err.evalue
    assert call(rt, "State.load", "global", "doc") == "small"
    assert [h["value"] for h in call(rt, "State.history", "global", "doc")] == ["small"]


def test_the_size_limit_measures_the_json_as_stored(make_runtime: MakeRuntime, engine: str) -> None:
    rt = make_runtime(engine, storage__max_value_mb=0.001)  # 1048 bytes
    ones = [1] * 400  # 801 bytes as stored (compact), 1,200 with ", " between items
    assert call(rt, "State.save", "global", "ones", ones) is True
    assert call(rt, "State.load", "global", "ones") == ones


def test_a_failed_save_of_a_function_keeps_the_old_value(lua: ScriptRuntime) -> None:
    call(lua, "State.save", "global", "k", "old")
    lua.execute("ok = pcall(State.save, 'global', 'k', print)")
    assert lua.execute("return ok").value is False
    assert call(lua, "State.load", "global", "k") == "old"


def test_lua_scripts_catch_state_errors_with_pcall(lua: ScriptRuntime) -> None:
    code = "local ok, err = pcall(State.save, 'global', '', 1) return ok, err"
    assert lua.execute(code).value == [False, "State.save: key must be a non-empty string"]


def test_state_persists_in_a_sqlite_file_across_runtimes(
    make_runtime: MakeRuntime, tmp_path: Path, engine: str
) -> None:
    db = tmp_path / "state.db"
    first = make_runtime(engine, storage__backend="sqlite", storage__path=str(db))
    call(first, "State.save", "global", "k", {"n": 1})
    first.close()
    second = make_runtime(engine, storage__backend="sqlite", storage__path=str(db))
    assert call(second, "State.load", "global", "k") == {"n": 1}
    assert db.is_file()


def test_tenants_do_not_see_each_others_state(make_runtime: MakeRuntime, tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    acme = make_runtime(storage__backend="sqlite", storage__path=db, tenancy__tenant_id="acme")
    other = make_runtime(storage__backend="sqlite", storage__path=db, tenancy__tenant_id="other")
    call(acme, "State.save", "global", "k", "acme's")
    assert call(other, "State.load", "global", "k") is None
    assert call(other, "State.clear", "global") == 0
    assert call(acme, "State.load", "global", "k") == "acme's"


def test_a_busy_sqlite_database_is_a_clear_storage_error_in_the_script(
    make_runtime: MakeRuntime, tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "busy.db"
    rt = make_runtime(
        engine, storage__backend="sqlite", storage__path=str(path), storage__busy_timeout_s=0.2
    )
    call(rt, "State.save", "g", "k", "before")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        err = call_error(rt, "State.save", "g", "k", "during")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert err.evalue.startswith(f"State.save: storage error: the SQLite database {path} is busy")
    assert "busy timeout (0.2 s, storage.busy_timeout_s)" in err.evalue
    assert "internal error" not in err.evalue
    assert not any('.py"' in line for line in err.traceback)  # only the script's own frames
    assert call(rt, "State.load", "g", "k") == "before"
