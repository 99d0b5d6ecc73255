"""The Session global through both engines: records, the builder, transitions, listing from
storage, updates, the current session, deletes and their cascade, and argument checking."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime

RFC3339_UTC_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
RECORD_KEYS = {
    "id",
    "name",
    "description",
    "tags",
    "status",
    "created_at",
    "updated_at",
    "parent_id",
    "metadata",
    "artifact_count",
}


def create(rt: ScriptRuntime, **options: Any) -> str:
    session_id = call(rt, "Session.create", options)
    assert isinstance(session_id, str)
    return session_id


def test_create_returns_a_uuid_and_get_returns_the_whole_record(rt: ScriptRuntime) -> None:
    session_id = create(
        rt, name="research", description="demo", tags=["a", "b"], metadata={"owner": "ann"}
    )
    assert str(uuid.UUID(session_id)) == session_id
    record = call(rt, "Session.get", session_id)
    assert set(record) <= RECORD_KEYS and RECORD_KEYS - set(record) <= {"parent_id"}
    assert record["id"] == session_id
    assert (record["name"], record["description"], record["status"]) == (
        "research",
        "demo",
        "active",
    )
    assert record["tags"] == ["a", "b"]
    assert record["metadata"] == {"owner": "ann"}
    assert record["artifact_count"] == 0
    assert RFC3339_UTC_MICROS.match(record["created_at"])
    assert record["created_at"] == record["updated_at"]


def test_the_builder_creates_the_same_record(rt: ScriptRuntime) -> None:
    if rt.engine_name == "lua":
        code = (
            'return Session.builder():name("b"):description("d"):tag("x"):tags({"y", "z"})'
            ":metadata({k = 1}):build()"
        )
    else:
        code = (
            'Session.builder().name("b").description("d").tag("x").tags(["y", "z"])'
            '.metadata({"k": 1}).build()'
        )
    session_id = rt.execute(code).value
    record = call(rt, "Session.get", session_id)
    assert (record["name"], record["description"], record["tags"], record["metadata"]) == (
        "b",
        "d",
        ["x", "y", "z"],
        {"k": 1},
    )


def test_a_child_session_names_its_parent(rt: ScriptRuntime) -> None:
    parent = create(rt, name="parent")
    child = create(rt, name="child", parent_id=parent)
    assert call(rt, "Session.get", child)["parent_id"] == parent
    error = call_error(rt, "Session.create", {"parent_id": str(uuid.uuid4())})
    assert error.evalue.startswith("Session.create: no session ")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"title": "x"}, "unknown option 'title'; allowed: description, id, metadata, name"),
        ({"tags": "x"}, "tags must be a list of strings"),
        ({"tags": ["ok", ""]}, "tag must be a non-empty string"),
        ({"name": 3}, "name must be a string, got integer"),
        ({"metadata": ["a"]}, "metadata must be a table with named fields"),
        ({"parent_id": "not-a-uuid"}, "session id must be a UUID string, got 'not-a-uuid'"),
    ],
)
def test_bad_create_options_are_refused_naming_the_problem(
    rt: ScriptRuntime, options: dict[str, Any], message: str
) -> None:
    error = call_error(rt, "Session.create", options)
    assert error.evalue.startswith("Session.create: ")
    assert message in error.evalue
    assert as_list(call(rt, "Session.list")) == []


def test_get_of_a_malformed_or_unknown_id_raises_naming_session_get(rt: ScriptRuntime) -> None:
    error = call_error(rt, "Session.get", "not-a-uuid")
    assert error.evalue == "Session.get: session id must be a UUID string, got 'not-a-uuid'"
    unknown = str(uuid.uuid4())
    assert call_error(rt, "Session.get", unknown).evalue == f"Session.get: no session {unknown}"


def test_ids_are_accepted_in_any_uuid_spelling(rt: ScriptRuntime) -> None:
    session_id = create(rt)
    assert call(rt, "Session.get", session_id.upper())["id"] == session_id


STATUSES = ["active", "suspended", "completed", "failed", "archived"]
ACTIONS = {
    "suspend": ({"active"}, "suspended"),
    "resume": ({"suspended"}, "active"),
    "complete": ({"active", "suspended"}, "completed"),
    "fail": ({"active", "suspended"}, "failed"),
    "archive": ({"completed", "failed"}, "archived"),
}
# How to bring a new (active) session to each status.
PATHS = {
    "active": [],
    "suspended": ["suspend"],
    "completed": ["complete"],
    "failed": ["fail"],
    "archived": ["complete", "archive"],
}


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_transition_is_allowed_exactly_from_its_statuses(
    lua: ScriptRuntime, start: str, action: str
) -> None:
    session_id = create(lua)
    for step in PATHS[start]:
        call(lua, f"Session.{step}", session_id)
    sources, target = ACTIONS[action]
    if start in sources:
        assert call(lua, f"Session.{action}", session_id) == target
        assert call(lua, "Session.get", session_id)["status"] == target
    else:
        error = call_error(lua, f"Session.{action}", session_id)
        assert error.evalue.startswith(f"Session.{action}: cannot {action} session")
        assert f"{start} -> {target} is not allowed" in error.evalue
        assert call(lua, "Session.get", session_id)["status"] == start


def test_complete_and_fail_keep_their_note_in_the_metadata(rt: ScriptRuntime) -> None:
    done = create(rt, metadata={"k": 1})
    call(rt, "Session.complete", done, "all good")
    assert call(rt, "Session.get", done)["metadata"] == {"k": 1, "summary": "all good"}
    broken = create(rt)
    call(rt, "Session.fail", broken, "timeout")
    assert call(rt, "Session.get", broken)["metadata"] == {"failure_reason": "timeout"}


def test_list_filters_orders_and_pages_stored_sessions(rt: ScriptRuntime) -> None:
    first = create(rt, name="report-a", tags=["x", "y"])
    second = create(rt, name="report-b", tags=["x"])
    third = create(rt, name="other")
    call(rt, "Session.complete", second)

    def listed(options: dict[str, Any]) -> list[str]:
        return [s["id"] for s in as_list(call(rt, "Session.list", options))]

    assert listed({}) == [second, third, first], "most recently updated first"
    assert listed({"status": "completed"}) == [second]
    assert listed({"tags": ["x"]}) == [second, first]
    assert listed({"tags": ["x", "y"]}) == [first]
    assert listed({"tags": "y"}) == [first]
    assert listed({"name": "report*"}) == [second, first]
    assert listed({"order": "name"}) == [third, first, second]
    assert listed({"order": "created_at asc"}) == [first, second, third]
    assert listed({"order": "name desc", "limit": 2}) == [second, first]
    assert listed({"order": "name", "offset": 1, "limit": 1}) == [first]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"status": "done"}, "status must be one of active, suspended"),
        ({"order": "size desc"}, "order must be '<field> [asc|desc]'"),
        ({"order": "name sideways"}, "order must be '<field> [asc|desc]'"),
        ({"limit": -1}, "limit must be >= 0"),
        ({"sort": "name"}, "unknown option 'sort'"),
    ],
)
def test_bad_list_options_are_refused(
    rt: ScriptRuntime, options: dict[str, Any], message: str
) -> None:
    error = call_error(rt, "Session.list", options)
    assert error.evalue.startswith("Session.list: ") and message in error.evalue


def test_list_shows_sessions_made_by_an_earlier_process(
    make_runtime: MakeRuntime, tmp_path: Path, engine: str
) -> None:
    overrides = {"storage__backend": "sqlite", "storage__path": str(tmp_path / "s.db")}
    earlier = make_runtime(engine, **overrides)
    session_id = create(earlier, name="from before")
    earlier.close()
    later = make_runtime(engine, **overrides)
    assert [s["id"] for s in call(later, "Session.list")] == [session_id]
    assert call(later, "Session.get", session_id)["name"] == "from before"


def test_update_changes_the_given_fields_only(rt: ScriptRuntime) -> None:
    session_id = create(rt, name="old", description="keep", tags=["t"])
    before = call(rt, "Session.get", session_id)
    record = call(rt, "Session.update", session_id, {"name": "new", "metadata": {"m": 2}})
    assert (record["name"], record["description"], record["tags"], record["metadata"]) == (
        "new",
        "keep",
        ["t"],
        {"m": 2},
    )
    assert record["updated_at"] > before["updated_at"]
    error = call_error(rt, "Session.update", session_id, {"status": "completed"})
    assert "unknown option 'status'" in error.evalue


def test_archived_sessions_are_read_only(rt: ScriptRuntime) -> None:
    session_id = create(rt)
    call(rt, "Session.complete", session_id)
    call(rt, "Session.archive", session_id)
    error = call_error(rt, "Session.update", session_id, {"name": "x"})
    assert error.evalue == f"Session.update: session {session_id} is archived (read-only)"


def test_the_current_session_is_per_runtime(make_runtime: MakeRuntime, engine: str) -> None:
    rt = make_runtime(engine)
    assert call(rt, "Session.get_current") is None
    session_id = create(rt)
    assert call(rt, "Session.set_current", session_id) == session_id
    assert call(rt, "Session.get_current") == session_id
    other = make_runtime(engine)
    assert call(other, "Session.get_current") is None
    assert call(rt, "Session.set_current", None) is None
    assert call(rt, "Session.get_current") is None
    error = call_error(rt, "Session.set_current", str(uuid.uuid4()))
    assert error.evalue.startswith("Session.set_current: no session")


def test_delete_removes_the_session_and_clears_it_as_current(rt: ScriptRuntime) -> None:
    session_id = create(rt)
    call(rt, "Session.set_current", session_id)
    assert call(rt, "Session.delete", session_id) is True
    assert call(rt, "Session.get_current") is None
    assert call_error(rt, "Session.get", session_id).evalue.startswith("Session.get: no session")
    assert call_error(rt, "Session.delete", session_id).evalue.startswith(
        "Session.delete: no session"
    )


def test_delete_cascades_to_artifacts_and_the_session_state_scope(rt: ScriptRuntime) -> None:
    doomed = create(rt)
    kept = create(rt)
    for session_id in (doomed, kept):
        call(rt, "Artifact.store", session_id, "tool_result", "a.txt", "shared bytes")
        call(rt, "State.save", f"session:{session_id}", "k", 1)
    assert call(rt, "Session.get", doomed)["artifact_count"] == 1
    call(rt, "Session.delete", doomed)
    assert call(rt, "State.load", f"session:{doomed}", "k") is None
    assert call(rt, "State.load", f"session:{kept}", "k") == 1
    assert [a["name"] for a in call(rt, "Artifact.list", kept)] == ["a.txt"]
    assert as_list(call(rt, "Artifact.query", {"session_id": doomed})) == []


def test_save_and_load_are_kept_for_compatibility(rt: ScriptRuntime) -> None:
    session_id = create(rt)
    assert call(rt, "Session.save", session_id) is True
    assert call(rt, "Session.load", session_id) == session_id
    assert call_error(rt, "Session.load", str(uuid.uuid4())).evalue.startswith(
        "Session.load: no session"
    )


def test_a_session_list_and_a_session_display_as_html_tables(lua: ScriptRuntime) -> None:
    create(lua, name="with <b>markup</b>", tags=["t"])
    create(lua, name="plain")
    bundle = lua.execute("return Session.list()").bundle
    html = bundle["text/html"]
    assert html.count("<tr>") == 3, "a header and two sessions"
    assert "<th>artifact_count</th>" in html and "<th>parent_id</th>" in html
    assert "with &lt;b&gt;markup&lt;/b&gt;" in html
    single = lua.execute("return Session.get(Session.list()[1].id)").bundle
    assert single["text/html"].count("<tr>") == 2
