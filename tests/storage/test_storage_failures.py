"""Failures inside a storage transaction reach the caller without SQL, bound parameters or
SQLAlchemy's text, on every backend; NUL characters are refused by every component the same
way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, text

from llmspell.storage import SqlStorage, StorageError
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.components.hooks import HookExecution
from llmspell.storage.components.kv import kv_entries
from llmspell.storage.components.sessions import SessionRecord
from llmspell.storage.components.vectors import NewVector
from llmspell.storage.errors import ConstraintViolation
from llmspell.storage.values import NUL_REFUSED

FORBIDDEN = ("INSERT", "SELECT", "[parameters:", "[SQL:", "sqlalche.me", "Background on")


def assert_clean(message: str, *secrets: str) -> None:
    for leak in (*FORBIDDEN, *secrets):
        assert leak not in message, (leak, message)


def test_a_statement_the_database_refuses_names_its_class_not_the_statement(
    storage: SqlStorage,
) -> None:
    secret = f"{storage.tenant_id}-secret-value"
    with (
        pytest.raises(StorageError) as info,
        storage.database("kv").transaction() as conn,
    ):
        conn.execute(text("SELECT x FROM no_such_table WHERE y = :v"), {"v": secret})
    message = str(info.value)
    assert message.startswith("the database refused a statement: ")
    assert "debug log" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert_clean(message, secret, storage.tenant_id)


def test_a_broken_constraint_is_a_constraint_violation_without_the_row(
    storage: SqlStorage,
) -> None:
    storage.kv.put("g", "k", 1)
    row = {
        "tenant_id": storage.tenant_id,
        "scope": "g",
        "key": "k",
        "value": "2",
        "version": 2,
        "updated_at": datetime.now(UTC),
    }
    with (
        pytest.raises(ConstraintViolation) as info,
        storage.database("kv").transaction(write=True) as conn,
    ):
        conn.execute(insert(kv_entries), row)
    assert "breaks one of its constraints" in str(info.value)
    assert_clean(str(info.value), storage.tenant_id)
    assert storage.kv.get("g", "k") == 1


def test_an_error_raised_inside_a_transaction_keeps_its_class(storage: SqlStorage) -> None:
    with (
        pytest.raises(KeyError),
        storage.database("kv").transaction() as conn,
    ):
        conn.execute(text("SELECT 1"))
        raise KeyError("mine")


@pytest.mark.parametrize("storage_backend", ["postgres"])
def test_a_statement_timeout_is_a_clear_storage_error(storage: SqlStorage) -> None:
    with (
        pytest.raises(StorageError) as info,
        storage.database("kv").transaction() as conn,
    ):
        conn.execute(text("SET LOCAL statement_timeout = 50"))
        conn.execute(text("SELECT pg_sleep(5)"))
    message = str(info.value)
    assert message.startswith("PostgreSQL at ")
    assert "canceling statement due to statement timeout" in message
    assert_clean(message, storage.tenant_id)
    assert storage.kv.put("g", "k", 1) == 1


@pytest.mark.parametrize("storage_backend", ["postgres"])
def test_a_nul_that_no_check_caught_is_still_a_value_error_on_postgres(
    storage: SqlStorage,
) -> None:
    for value in ("a\x00b", '{"a": "\\u0000"}'):
        with (
            pytest.raises(ValueError, match=r"a value contains a NUL byte \(\\0\)") as info,
            storage.database("kv").transaction() as conn,
        ):
            conn.execute(text("SELECT CAST(:v AS jsonb)"), {"v": value})
        assert_clean(str(info.value), storage.tenant_id)


NUL = "a\x00b"


def _session(**changes: Any) -> SessionRecord:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "id": "s1",
        "name": "n",
        "description": None,
        "tags": (),
        "status": "active",
        "parent_id": None,
        "metadata": {},
        "created_at": now,
        "updated_at": now,
        **changes,
    }
    return SessionRecord(**fields)


def _hook(**changes: Any) -> HookExecution:
    fields: dict[str, Any] = {
        "execution_id": "e1",
        "hook_id": "h1",
        "hook_name": None,
        "point": "BeforeAgentExecution",
        "component": "agent",
        "correlation_id": None,
        "session_id": None,
        "started_at": datetime.now(UTC),
        "duration_ms": 1.0,
        "result": "continue",
        "error": None,
        "context": {},
        **changes,
    }
    return HookExecution(**fields)


# Every way a NUL could reach a component's text or JSON, and the name its error gives it.
NUL_WRITES: dict[str, tuple[Any, str]] = {
    "kv key": (lambda s: s.kv.put("g", NUL, 1), "key"),
    "kv value": (lambda s: s.kv.put("g", "k", {"x": [NUL]}), "value.x[1]"),
    "kv key in value": (lambda s: s.kv.put("g", "k", {NUL: 1}), "value (the key 'a\\x00b')"),
    "agent state": (lambda s: s.agent_state.put("a", {"x": NUL}), "state.x"),
    "session name": (lambda s: s.sessions.create(_session(name=NUL)), "name"),
    "session metadata": (lambda s: s.sessions.create(_session(metadata={"m": NUL})), "metadata.m"),
    "session tags": (lambda s: s.sessions.create(_session(tags=("ok", NUL))), "tags[2]"),
    "event data": (lambda s: s.events.append("a.b", {"x": NUL}), "data.x"),
    "event correlation": (
        lambda s: s.events.append("a.b", 1, correlation_id=NUL),
        "correlation_id",
    ),
    "graph name": (lambda s: s.graph.add_entity(NUL, "t", {}), "name"),
    "graph properties": (lambda s: s.graph.add_entity("n", "t", {"p": NUL}), "properties.p"),
    "procedural trigger": (lambda s: s.procedural.record(NUL, "a", True), "trigger"),
    "procedural context": (lambda s: s.procedural.record("t", "a", True, {"c": NUL}), "context.c"),
    "hook point": (lambda s: s.hooks.record(_hook(point=NUL)), "point"),
    "vector content": (
        lambda s: s.vectors.add("ns", "m", [NewVector([1.0] * 128, content=NUL)]),
        "vector 1: content",
    ),
    "vector metadata": (
        lambda s: s.vectors.add("ns", "m", [NewVector([1.0] * 128, metadata={"k": NUL})]),
        "metadata.k",
    ),
    "artifact name": (
        lambda s: s.artifacts.store(NewArtifact("s1", NUL, "user_input"), b"x"),
        "name",
    ),
    "artifact metadata": (
        lambda s: s.artifacts.store(
            NewArtifact("s1", "n", "user_input", metadata={"m": NUL}), b"x"
        ),
        "metadata.m",
    ),
    "workflow input": (
        lambda s: s.workflow_state.create_execution(_workflow(input={"i": NUL})),
        "input: value.i",
    ),
}


def _workflow(**changes: Any) -> Any:
    from llmspell.storage import WorkflowExecution

    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "execution_id": "w1",
        "workflow_name": "pipe",
        "workflow_type": "sequential",
        "status": "running",
        "input": {},
        "current_step": None,
        "error": None,
        "parent_id": None,
        "context": {},
        "started_at": now,
        "updated_at": now,
        "finished_at": None,
        **changes,
    }
    return WorkflowExecution(**fields)


@pytest.mark.parametrize("write", list(NUL_WRITES), ids=list(NUL_WRITES))
def test_every_component_refuses_a_nul_with_the_same_words_on_every_backend(
    storage: SqlStorage, write: str
) -> None:
    call, name = NUL_WRITES[write]
    with pytest.raises(ValueError) as info:
        call(storage)
    assert str(info.value) == f"{name} {NUL_REFUSED}"


def test_a_hooks_error_message_with_a_nul_is_recorded_with_the_nul_escaped(
    storage: SqlStorage,
) -> None:
    storage.hooks.record(_hook(result="error", error="boom\x00there"))
    [recorded] = storage.hooks.query()
    assert recorded.error == "boom\\0there"


text_with_nul = st.text(max_size=6).map(lambda t: t + "\x00" + t)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.recursive(
        text_with_nul,
        lambda inner: (
            st.lists(inner, min_size=1, max_size=3)
            | st.dictionaries(st.text(max_size=4), inner, min_size=1, max_size=3)
        ),
        max_leaves=6,
    )
)
def test_any_json_value_holding_a_nul_is_refused_and_nothing_is_stored(
    storage: SqlStorage, value: Any
) -> None:
    with pytest.raises(ValueError, match=r"contains a NUL byte \(\\0\)"):
        storage.kv.put("nul", "k", value)
    assert storage.kv.get("nul", "k") is None


@pytest.mark.parametrize("path", [None, "file"])
def test_sqlite_engines_keep_bound_values_out_of_driver_errors(
    path: str | None, tmp_path: Any
) -> None:
    from sqlalchemy.exc import DBAPIError

    from llmspell.storage.sqlite import sqlite_engine

    engine = sqlite_engine(None if path is None else str(tmp_path / "x.db"))
    with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
        conn.execute(text("SELECT * FROM no_such_table WHERE k = :k"), {"k": "tenant-secret"})
    assert "tenant-secret" not in str(caught.value)
    engine.dispose()
