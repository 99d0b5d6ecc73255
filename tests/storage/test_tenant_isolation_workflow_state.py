"""Tenant B never reads, lists, updates or deletes tenant A's workflow executions or steps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmspell.storage import (
    SqlStorage,
    StorageSettings,
    WorkflowExecution,
    WorkflowStep,
    open_storage,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def two_tenants(
    request: pytest.FixtureRequest, tmp_path: Path, unique_tenant: str
) -> tuple[SqlStorage, SqlStorage]:
    """Tenants A and B on one database (PostgreSQL as the app role), A holding one run."""
    if request.param == "postgres":
        settings: StorageSettings = request.getfixturevalue("pg_settings")
    else:
        settings = StorageSettings(backend="sqlite", sqlite_path=str(tmp_path / "shared.db"))
    a = open_storage(settings, f"{unique_tenant}-a")
    b = open_storage(settings, f"{unique_tenant}-b")
    request.addfinalizer(a.close)
    request.addfinalizer(b.close)
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
