"""Helpers of the migrate / backup / restore suites: a store filled with rows of several
components, and what each tenant holds, read back through the stores' own APIs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from llmspell.storage import SqlStorage
from llmspell.storage.components.artifacts import NewArtifact
from llmspell.storage.components.kv import kv_entries, kv_history
from llmspell.storage.components.vectors import NewVector

BODY = bytes(range(256)) * 5000  # 1.28 MB: several artifact chunks
# `make_store(kind, name)` (a fixture of conftest.py): an open storage of that backend.
MakeStore = Callable[[str, str], SqlStorage]
FILLED = ("artifacts", "events", "graph", "kv", "vectors")


def fill(storage: SqlStorage, tenant: str, keys: int = 30) -> None:
    """Give `tenant` rows in kv (with history), events, graph, vectors and artifacts."""
    store = storage.for_tenant(tenant)
    for i in range(keys):
        store.kv.put("app", f"key-{i}", {"n": i, "tenant": tenant, "text": "é✓"})
    store.kv.put("app", "key-0", "second version")
    store.events.append("test.event", {"i": 1}, timestamp=datetime(2026, 1, 2, 3, 4, 5, 6, UTC))
    store.events.append("test.event", [1, 2.5, None])
    a = store.graph.add_entity("Ada", "person", {"born": 1815, "tags": ["math"]})
    b = store.graph.add_entity("Charles", "person", {})
    store.graph.add_relationship(a, b, "knows", {"since": 1833})
    rng = np.random.default_rng(7)
    store.vectors.add(
        "docs",
        "test-model",
        [NewVector(rng.random(384, dtype=np.float32), f"text {i}") for i in range(5)],
    )
    store.artifacts.store(NewArtifact("session-1", "big.bin", "tool_result"), BODY)
    store.artifacts.store(NewArtifact("session-1", "note.txt", "text", tags=("x",)), "hello")


def contents(storage: SqlStorage, tenant: str) -> dict[str, Any]:
    """What `tenant` holds, as the stores give it back (to compare a source with its copy)."""
    store = storage.for_tenant(tenant)
    keys = sorted(store.kv.list_keys("app"))
    return {
        "kv": {key: store.kv.get("app", key) for key in keys},
        "kv_history": [v.value for v in store.kv.history("app", "key-0")],
        "events": [(e.event_type, e.data, e.timestamp) for e in store.events.query()],
        "entities": sorted(
            (e.name, e.type, repr(e.properties)) for e in store.graph.find_entities()
        ),
        "vectors": store.vectors.count("docs"),
        "artifacts": [
            (record.name, store.artifacts.read(record.session_id, record.sequence))
            for record in store.artifacts.list("session-1")
        ],
    }


def state_rows(storage: SqlStorage, tenant: str) -> dict[str, list[tuple[Any, ...]]]:
    """`tenant`'s rows of kv_entries and kv_history as stored, sorted (a doubled history row,
    or one missing, shows)."""
    with storage.database("kv").for_tenant(tenant).transaction() as conn:
        return {
            table.name: sorted(
                tuple(row) for row in conn.execute(select(table).where(table.c.tenant_id == tenant))
            )
            for table in (kv_entries, kv_history)
        }


def put_versions(storage: SqlStorage, tenant: str) -> None:
    """Five keys of `tenant` put once (first versions, recorded by the database) and one of
    them twice more: 5 entries, 7 history rows."""
    kv = storage.for_tenant(tenant).kv
    for i in range(5):
        kv.put("app", f"key-{i}", {"i": i})
    kv.put("app", "key-0", "second")
    kv.put("app", "key-0", "third")


def assert_state_continues(storage: SqlStorage, tenant: str) -> None:
    """After a copy, puts record versions again: a new key its first, an old key its next."""
    kv = storage.for_tenant(tenant).kv
    assert kv.put("app", "new-key", "first") == 1
    assert [(h.version, h.value) for h in kv.history("app", "new-key")] == [(1, "first")]
    assert kv.put("app", "key-0", "fourth") == 4
    assert [h.version for h in kv.history("app", "key-0")] == [4, 3, 2, 1]
