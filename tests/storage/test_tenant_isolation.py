"""Tenant B never reads, lists, counts, updates, deletes or clears tenant A's state."""

from __future__ import annotations

import threading

import pytest

from llmspell.storage import SqlStorage

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("hooks", "kv")


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database (SQLite, PostgreSQL), A holding some state."""
    a, b = tenant_pair
    a.kv.put("shared", "secret", {"owner": "a"})
    a.kv.put("shared", "secret", {"owner": "a", "v": 2})
    a.kv.put("shared", "other", 1)
    return a, b


def test_tenant_b_cannot_read_tenant_a_state(two_tenants: tuple[SqlStorage, SqlStorage]) -> None:
    _, b = two_tenants
    assert b.kv.get("shared", "secret") is None
    assert b.kv.exists("shared", "secret") is False
    assert b.kv.history("shared", "secret") == []


def test_tenant_b_cannot_list_or_count_tenant_a_keys(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.kv.list_keys("shared") == []
    assert b.kv.list_keys("shared", "sec") == []
    assert b.kv.count("shared") == 0


def test_tenant_b_writing_the_same_key_does_not_update_tenant_a(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert b.kv.put("shared", "secret", "b's own") == 1, "b gets its own version chain"
    assert a.kv.get("shared", "secret") == {"owner": "a", "v": 2}
    assert [h.version for h in a.kv.history("shared", "secret")] == [2, 1]
    assert b.kv.get("shared", "secret") == "b's own"


def test_versions_the_database_records_go_to_the_writing_tenants_history_only(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    # Versions after the first are written by a trigger (PostgreSQL: as the app role, so under
    # row-level security); each lands in its writer's history.
    a, b = two_tenants
    for value in ("b1", "b2", "b3"):
        b.kv.put("shared", "secret", value)
    assert [(h.version, h.value) for h in b.kv.history("shared", "secret")] == [
        (3, "b3"),
        (2, "b2"),
        (1, "b1"),
    ]
    assert [(h.version, h.value) for h in a.kv.history("shared", "secret")] == [
        (2, {"owner": "a", "v": 2}),
        (1, {"owner": "a"}),
    ]
    assert a.kv.usage().versions == 3 and b.kv.usage().versions == 3


def test_tenant_b_cannot_delete_or_clear_tenant_a_state(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert b.kv.delete("shared", "secret") is False
    assert b.kv.clear("shared") == 0
    assert a.kv.get("shared", "secret") == {"owner": "a", "v": 2}
    assert a.kv.count("shared") == 2
    assert len(a.kv.history("shared", "secret")) == 2


def test_tenant_a_clear_leaves_tenant_b_alone(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.kv.put("shared", "mine", 1)
    assert a.kv.clear("shared") == 2
    assert b.kv.get("shared", "mine") == 1


def test_two_tenants_sharing_one_pool_concurrently_never_see_each_other(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, _ = two_tenants
    b = a.for_tenant(f"{a.tenant_id}-pool-b")
    assert b.database("kv").source is a.database("kv").source, (
        "one engine (and on PostgreSQL one psycopg pool)"
    )
    errors: list[str] = []
    rounds = 40

    def work(storage: SqlStorage, name: str) -> None:
        try:
            for i in range(rounds):
                storage.kv.put("race", "k", {"by": name, "i": i})
                seen = storage.kv.get("race", "k")
                if seen is None or seen["by"] != name:
                    errors.append(f"{name} read {seen!r}")
                keys = storage.kv.list_keys("shared")
                if name == "b" and keys:
                    errors.append(f"b listed {keys!r}")
        except Exception as exc:  # surfaced through `errors` to the main thread
            errors.append(f"{name}: {exc!r}")

    threads = [
        threading.Thread(target=work, args=(storage, name))
        for storage, name in ((a, "a"), (b, "b"), (a, "a"), (b, "b"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert a.kv.history("race", "k")[0].version == 2 * rounds
    assert b.kv.history("race", "k")[0].version == 2 * rounds
    assert b.kv.get("shared", "secret") is None


def test_tenant_b_cannot_read_or_filter_its_way_into_tenant_a_hook_history(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    from test_contract_hooks import execution

    a, b = two_tenants
    a.hooks.record(execution(0, correlation_id="corr", session_id="sess"))
    assert b.hooks.query() == []
    assert b.hooks.query(correlation_id="corr") == []
    assert b.hooks.query(session_id="sess") == []
    b.hooks.record(execution(1))
    assert [e.context["n"] for e in a.hooks.query()] == [0]
