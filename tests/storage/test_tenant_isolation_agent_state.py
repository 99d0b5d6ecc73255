"""Tenant B never reads, lists, counts, updates, deletes or clears tenant A's agent state
(SQLite file and PostgreSQL as the app role)."""

from __future__ import annotations

import pytest

from llmspell.storage import AgentStateConflict, SqlStorage

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("agent_state",)


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database, A holding two agents' state."""
    a, b = tenant_pair
    a.agent_state.put("planner", {"owner": "a"})
    a.agent_state.put("planner", {"owner": "a", "v": 2})
    a.agent_state.put("writer", {"owner": "a"})
    return a, b


def test_tenant_b_cannot_read_list_or_count_tenant_a_agents(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.agent_state.get("planner") is None
    assert b.agent_state.list() == []
    assert b.agent_state.list("plan") == []
    assert b.agent_state.count() == 0


def test_tenant_b_cannot_update_tenant_a_agents_through_versions(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    with pytest.raises(AgentStateConflict, match="does not exist"):
        b.agent_state.put("planner", {"owner": "b"}, expected_version=2)
    assert b.agent_state.put("planner", {"owner": "b"}, expected_version=0).data_version == 1
    found = a.agent_state.get("planner")
    assert found is not None and (found.state, found.data_version) == ({"owner": "a", "v": 2}, 2)
    own = b.agent_state.get("planner")
    assert own is not None and own.state == {"owner": "b"}


def test_tenant_b_cannot_delete_or_clear_tenant_a_agents(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert b.agent_state.delete("planner") is False
    assert b.agent_state.clear() == 0
    assert a.agent_state.count() == 2
    b.agent_state.put("mine", {})
    assert a.agent_state.clear() == 2
    assert [r.agent_id for r in b.agent_state.list()] == ["mine"]
