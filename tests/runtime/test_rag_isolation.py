"""RAG tenant isolation on PostgreSQL as the app role (row-level security forced): another
tenant's documents are never returned, listed, counted in stats or deleted by cleanup_scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from runtime_helpers import memory_config

from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.rag import Document, RagManager
from llmspell.storage import StorageSettings, open_storage

pytestmark = pytest.mark.postgres


@pytest.fixture
def tenants(pg_settings: StorageSettings, unique_tenant: str) -> Iterator[tuple[RagManager, ...]]:
    made = []
    for suffix in ("a", "b"):
        tenant = f"{unique_tenant}-{suffix}"
        config = memory_config({"tenancy.tenant_id": tenant})
        made.append(Infrastructure(config, storage=open_storage(pg_settings, tenant)))
    yield tuple(infra.get(RagManager) for infra in made)
    for infra in made:
        infra.close()


def test_tenant_b_never_sees_counts_or_deletes_tenant_a_documents(
    tenants: tuple[RagManager, RagManager],
) -> None:
    a, b = tenants
    secret = "The vault combination of tenant A is 4-8-15-16."
    a.ingest([Document(secret, "vault", {"owner": "a"})])
    a.ingest([Document(secret, "vault")], scope="session", scope_id="shared-session")
    b.ingest([Document("Tenant B keeps its own notes about gardening.", "garden")])

    assert [h.document_id for h in b.search("vault combination", k=10)] == ["garden"]
    assert b.search("vault", k=10, filters={"owner": "a"}) == []
    assert b.search("vault", scope="session", scope_id="shared-session") == []
    assert [d.document_id for d in b.list_documents()] == ["garden"]
    assert b.list_documents("session") == []
    assert b.stats()["documents"] == 1 and b.stats("session")["chunks"] == 0
    assert b.cleanup_scope("session", "shared-session") == 0
    assert b.delete("vault") == 0

    assert [h.document_id for h in a.search("vault combination", k=1)] == ["vault"]
    assert a.stats("session", "shared-session")["chunks"] == 1
    assert a.stats()["documents"] == 1
