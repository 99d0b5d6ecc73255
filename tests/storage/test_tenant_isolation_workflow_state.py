"""Tenant B never reads, lists, updates or deletes tenant A's workflow executions or steps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llmspell.storage import (
    SqlStorage,
    WorkflowExecution,
    WorkflowStep,
)

# the components whose tenant isolation this module proves (tests/storage/test_components.py)
ISOLATED_COMPONENTS = ("workflow_state",)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def two_tenants(tenant_pair: tuple[SqlStorage, SqlStorage]) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database (PostgreSQL as the app role), A holding one run."""
    a, b = tenant_pair
    a.workflow_state.create_execution(
        WorkflowExecution(
            execution_id="run-1",
            workflow_name="secret-pipe",
            workflow_type="sequential",
            status="failed",
            input={"owner": "a"},
            started_at=NOW,
            updated_at=NOW,
        )
    )
    a.workflow_state.put_step(
        "run-1", WorkflowStep("s", 0, 0, "completed", NOW, output={"owner": "a"})
    )
    return a, b


def test_tenant_b_cannot_read_or_list_tenant_a_runs(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    _, b = two_tenants
    assert b.workflow_state.get_execution("run-1") is None
    assert b.workflow_state.steps("run-1") == []
    assert b.workflow_state.list_executions() == []
    assert b.workflow_state.list_executions("secret-pipe") == []
    assert b.workflow_state.list_executions(status="failed") == []


def test_tenant_b_cannot_update_or_delete_tenant_a_runs(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    assert b.workflow_state.update_execution("run-1", "completed", NOW) is False
    assert b.workflow_state.delete_execution("run-1") is False
    found = a.workflow_state.get_execution("run-1")
    assert found is not None and found.status == "failed"
    assert [s.output for s in a.workflow_state.steps("run-1")] == [{"owner": "a"}]


def test_tenant_b_using_the_same_execution_id_gets_its_own_run(
    two_tenants: tuple[SqlStorage, SqlStorage],
) -> None:
    a, b = two_tenants
    b.workflow_state.create_execution(
        WorkflowExecution("run-1", "mine", "parallel", "running", {"owner": "b"}, NOW, NOW)
    )
    b.workflow_state.put_step("run-1", WorkflowStep("s", 0, 0, "failed", NOW, error="b's"))
    a_run = a.workflow_state.get_execution("run-1")
    assert a_run is not None and a_run.workflow_name == "secret-pipe"
    assert [s.output for s in a.workflow_state.steps("run-1")] == [{"owner": "a"}]
    assert [s.error for s in b.workflow_state.steps("run-1")] == ["b's"]
