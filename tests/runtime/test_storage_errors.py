"""What a script sees when storage refuses or fails: a NUL character is refused with the same
words on every backend, and no message carries SQL, bound parameters, SQLAlchemy's links or the
tenant id; a lost PostgreSQL connection is a clear error and the next call works."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from runtime_helpers import memory_config

from llmspell.runtime import ScriptError, ScriptRuntime

TENANT = "tenant-qx7z"
FORBIDDEN = ("INSERT", "SELECT", "UPDATE", "[parameters:", "[SQL:", "sqlalche.me", TENANT)
NUL_REFUSED = "contains a NUL byte (\\0), which storage does not accept"

SESSION = 'local sid = Session.create({name = "s"}); '
# (script, what its error says); every one fails on every backend, before or in storage.
FAILING_CALLS = [
    (
        'Memory.episodic.add("s1", "user", "a\\0b")',
        f"Memory.episodic.add: content {NUL_REFUSED}",
    ),
    (
        'Memory.episodic.add("s1", "user", "ok", {note = "a\\0b"})',
        f"Memory.episodic.add: metadata.note {NUL_REFUSED}",
    ),
    ('Memory.episodic.add("s\\0", "user", "ok")', f"Memory.episodic.add: session_id {NUL_REFUSED}"),
    ('RAG.ingest("a\\0b")', f"RAG.ingest: document 1: content {NUL_REFUSED}"),
    ('RAG.ingest({content = "ok", id = "a\\0"})', f"RAG.ingest: document 1: id {NUL_REFUSED}"),
    ('RAG.ingest({content = "ok", metadata = {src = "a\\0"}})', f"metadata.src {NUL_REFUSED}"),
    ('State.save("global", "k", "a\\0b")', f"State.save: value {NUL_REFUSED}"),
    ('State.save("global", "k", {x = {"a", "b\\0"}})', f"State.save: value.x[2] {NUL_REFUSED}"),
    ('State.save("global", "k", {["a\\0"] = 1})', f"(the key 'a\\x00') {NUL_REFUSED}"),
    ('State.save("global", "k\\0", 1)', "State.save: key must not contain NUL"),
    ('State.list_keys("global", "a\\0")', f"State.list_keys: prefix {NUL_REFUSED}"),
    ('State.agent_set("a1", "k", "a\\0")', f"State.agent_set: value {NUL_REFUSED}"),
    ('Session.create({name = "a\\0b"})', "Session.create: name must not contain NUL"),
    ('Session.create({name = "ok", metadata = {x = "a\\0"}})', f"metadata.x {NUL_REFUSED}"),
    ('Session.create({name = "ok", tags = {"a\\0"}})', "Session.create: tag must not contain NUL"),
    (
        SESSION + 'return Artifact.store(sid, "user_input", "a\\0b", "content")',
        "Artifact.store: name must not contain NUL",
    ),
    (
        SESSION + 'return Artifact.store(sid, "user_input", "n", "c", {metadata = {x = "\\0"}})',
        f"Artifact.store: metadata.x {NUL_REFUSED}",
    ),
    ('Event.publish("a.b", {x = "a\\0b"})', f"Event.publish: data.x {NUL_REFUSED}"),
    (
        'Memory.semantic.add_entity({name = "a\\0b", type = "t"})',
        f"Memory.semantic.add_entity: name {NUL_REFUSED}",
    ),
    (
        'Memory.semantic.add_entity({name = "n", type = "t", properties = {x = "a\\0"}})',
        f"Memory.semantic.add_entity: properties.x {NUL_REFUSED}",
    ),
    ('Memory.semantic.query({name = "a\\0"})', f"Memory.semantic.query: name {NUL_REFUSED}"),
    (
        'Memory.procedural.record({trigger = "t\\0", action = "a"})',
        f"Memory.procedural.record: trigger {NUL_REFUSED}",
    ),
    (
        'Memory.procedural.record({trigger = "t", action = "a", context = {x = "\\0"}})',
        f"Memory.procedural.record: context.x {NUL_REFUSED}",
    ),
    # Failures that are not about NUL, for the scan of what messages carry.
    ('State.save("global", "big", string.rep("x", 2 * 1024 * 1024))', "the limit is"),
    ('Session.get("no-such-session")', "Session.get"),
    (
        SESSION + "Session.complete(sid); Session.archive(sid); "
        'return Artifact.store(sid, "user_input", "n", "c")',
        "Artifact.store: ",
    ),
    ('Memory.semantic.add_relationship({from = "x", to = "y", type = "t"})', "no entity"),
]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def backend_runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ScriptRuntime]:
    """A Lua runtime of tenant TENANT on each backend in turn."""
    overrides: dict[str, Any] = {"tenancy.tenant_id": TENANT, "storage.max_value_mb": 1}
    if request.param == "sqlite":
        overrides.update({"storage.backend": "sqlite", "storage.path": str(tmp_path / "x.db")})
    elif request.param == "postgres":
        overrides.update(request.getfixturevalue("pg_config_overrides"))
    rt = ScriptRuntime.with_engine(memory_config(overrides), "lua")
    yield rt
    rt.close()


def error_of(rt: ScriptRuntime, code: str) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        rt.execute(code)
    return info.value


def everything_shown(err: ScriptError) -> str:
    return "\n".join([str(err), err.evalue, *err.traceback])


def test_failing_storage_calls_say_what_is_wrong_and_never_show_sql_or_the_tenant(
    backend_runtime: ScriptRuntime,
) -> None:
    for code, says in FAILING_CALLS:
        err = error_of(backend_runtime, code)
        shown = everything_shown(err)
        assert says in err.evalue, (code, err.evalue)
        assert "internal error" not in shown, (code, shown)
        for leak in FORBIDDEN:
            assert leak not in shown, (code, leak, shown)


def test_a_nul_is_refused_with_the_same_error_on_every_backend(
    pg_config_overrides: dict[str, Any], tmp_path: Path
) -> None:
    seen: dict[str, list[tuple[str, str]]] = {}
    backends: dict[str, dict[str, Any]] = {
        "memory": {},
        "sqlite": {"storage.backend": "sqlite", "storage.path": str(tmp_path / "x.db")},
        "postgres": pg_config_overrides,
    }
    for name, overrides in backends.items():
        rt = ScriptRuntime.with_engine(memory_config(overrides), "lua")
        try:
            seen[name] = [
                (error_of(rt, code).ename, error_of(rt, code).evalue)
                for code, says in FAILING_CALLS
                if "NUL" in says
            ]
        finally:
            rt.close()
    assert seen["memory"] == seen["sqlite"] == seen["postgres"]
    assert {ename for ename, _ in seen["postgres"]} == {"ValidationError"}


def test_binary_artifact_content_and_searches_with_a_nul_work_on_every_backend(
    backend_runtime: ScriptRuntime,
) -> None:
    stored = backend_runtime.execute(
        SESSION + 'local id = Artifact.store(sid, "user_input", "blob", "bin\\0ary"); '
        "return Artifact.get(sid, id.sequence).content"
    )
    assert stored.value == "bin\x00ary"
    assert backend_runtime.execute('return RAG.search("a\\0b").total').value == 0


# --- a lost PostgreSQL connection ---------------------------------------------------------------


@pytest.fixture
def pg_runtime(pg_config_overrides: dict[str, Any]) -> Iterator[ScriptRuntime]:
    rt = ScriptRuntime.with_engine(memory_config(pg_config_overrides), "lua")
    yield rt
    rt.close()


def terminate_app_connections(superuser_url: str, app_role: str) -> int:
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (app_role,),
            ).fetchall()
        )


def test_state_save_after_the_server_closed_the_pooled_connections_works(
    pg_runtime: ScriptRuntime, pg_urls: Any
) -> None:
    from llmspell.storage.postgres.urls import role_of

    pg_runtime.execute('State.save("global", "k", 1)')
    assert terminate_app_connections(pg_urls.superuser_url, role_of(pg_urls.app_url)) >= 1
    # The pooled connection is dead; nothing ran on it yet, so storage begins on a new one.
    pg_runtime.execute('State.save("global", "k", 2)')
    assert pg_runtime.execute('return State.load("global", "k")').value == 2


def test_a_connection_lost_mid_statement_is_a_clear_error_and_the_next_call_works(
    pg_runtime: ScriptRuntime, pg_urls: Any
) -> None:
    from llmspell.storage.postgres.urls import role_of

    pg_runtime.execute('State.save("global", "k", 1)')
    app_role = role_of(pg_urls.app_url)
    with psycopg.connect(pg_urls.owner_url) as locker:
        # State.save waits for this lock inside its transaction; then its backend is ended.
        locker.execute("LOCK TABLE kv_entries IN ACCESS EXCLUSIVE MODE")
        killer = threading.Thread(
            target=_terminate_when_waiting, args=(pg_urls.superuser_url, app_role), daemon=True
        )
        killer.start()
        err = error_of(pg_runtime, 'State.save("global", "k", 2)')
        killer.join(timeout=30)
        locker.rollback()
    shown = everything_shown(err)
    assert err.evalue.startswith("State.save: storage error: PostgreSQL at ")
    assert "terminating connection due to administrator command" in err.evalue
    assert "the next call opens a new one" in err.evalue
    for leak in (*FORBIDDEN[:-1], "psycopg", "OperationalError"):
        assert leak not in shown, (leak, shown)
    pg_runtime.execute('State.save("global", "k", 3)')
    assert pg_runtime.execute('return State.load("global", "k")').value == 3


def _terminate_when_waiting(superuser_url: str, app_role: str) -> None:
    deadline = time.monotonic() + 20
    with psycopg.connect(superuser_url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE usename = %s AND wait_event_type = 'Lock'",
                (app_role,),
            ).fetchall()
            if ended:
                return
            time.sleep(0.02)
