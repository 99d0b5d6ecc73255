"""The workflow-state contract, one suite run on every backend (memory, sqlite, postgres).

`TENANT_FILTER_CALLS` reaches every statement of every store method; test_components.py checks
that each carries the tenant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from storage_helpers import json_values

from llmspell.storage import SqlStorage, WorkflowExecution, WorkflowStateSettings, WorkflowStep
from llmspell.storage.components.workflow_state import SqlWorkflowStateStore

NOW = datetime(2026, 11, 29, 12, 0, 0, 123456, tzinfo=UTC)


def execution(
    execution_id: str = "e1",
    name: str = "pipe",
    status: str = "running",
    started_at: datetime = NOW,
    **changes: Any,
) -> WorkflowExecution:
    return WorkflowExecution(
        execution_id=execution_id,
        workflow_name=name,
        workflow_type=changes.pop("workflow_type", "sequential"),
        status=status,
        input=changes.pop("input", {"x": 1}),
        started_at=started_at,
        updated_at=started_at,
        **changes,
    )


def step(name: str = "a", iteration: int = 0, position: int = 0, **changes: Any) -> WorkflowStep:
    fields: dict[str, Any] = {"status": "completed", "started_at": NOW}
    fields.update(changes)
    return WorkflowStep(name=name, iteration=iteration, position=position, **fields)


def _one_execution(store: SqlWorkflowStateStore) -> None:
    store.delete_execution("e1")
    store.create_execution(execution())


TENANT_FILTER_SETUP: Callable[[SqlWorkflowStateStore], None] = _one_execution
TENANT_FILTER_CALLS: dict[str, Callable[[SqlWorkflowStateStore], Any]] = {
    "create_execution": lambda s: s.create_execution(execution("e2")),
    "update_execution": lambda s: (
        s.update_execution("e1", "failed", NOW, error="x"),
        s.update_execution("e1", "running", NOW, context={"branch": "then"}),
    ),
    "get_execution": lambda s: s.get_execution("e1"),
    "list_executions": lambda s: (
        s.list_executions(),
        s.list_executions("pipe"),
        s.list_executions(status="running"),
        s.list_executions("pipe", "running", limit=1),
    ),
    "put_step": lambda s: s.put_step("e1", step()),
    "steps": lambda s: s.steps("e1"),
    "delete_execution": lambda s: s.delete_execution("e1"),
}


def test_an_execution_round_trips_with_every_field(storage: SqlStorage) -> None:
    record = execution(
        input={"expr": "6 * 7", "nested": [1, {"a": None}]},
        parent_id="p0",
        context={"branch": "else"},
        workflow_type="conditional",
    )
    storage.workflow_state.create_execution(record)
    assert storage.workflow_state.get_execution("e1") == record


def test_a_missing_execution_is_none_and_has_no_steps(storage: SqlStorage) -> None:
    assert storage.workflow_state.get_execution("never") is None
    assert storage.workflow_state.steps("never") == []


def test_creating_the_same_execution_twice_fails_and_keeps_the_first(storage: SqlStorage) -> None:
    storage.workflow_state.create_execution(execution(input={"first": True}))
    with pytest.raises(Exception):  # noqa: B017 - the backend's integrity error, wrapped or not
        storage.workflow_state.create_execution(execution(input={"second": True}))
    found = storage.workflow_state.get_execution("e1")
    assert found is not None and found.input == {"first": True}


def test_update_sets_status_error_current_step_and_finish_time(storage: SqlStorage) -> None:
    storage.workflow_state.create_execution(execution())
    later = NOW + timedelta(seconds=3)
    assert storage.workflow_state.update_execution(
        "e1", "failed", later, current_step="b", error="boom", finished_at=later
    )
    found = storage.workflow_state.get_execution("e1")
    assert found is not None
    assert (found.status, found.current_step, found.error) == ("failed", "b", "boom")
    assert found.finished_at == later and found.updated_at == later
    assert found.context == {}, "context is kept when not given"
    storage.workflow_state.update_execution("e1", "running", later, context={"branch": "then"})
    again = storage.workflow_state.get_execution("e1")
    assert again is not None and again.context == {"branch": "then"}
    assert again.error is None and again.finished_at is None


def test_update_of_a_missing_execution_is_false(storage: SqlStorage) -> None:
    assert storage.workflow_state.update_execution("never", "failed", NOW) is False


@pytest.mark.parametrize("status", ["done", "", None, "RUNNING"])
def test_an_unknown_status_is_rejected_naming_the_allowed_ones(
    storage: SqlStorage, status: Any
) -> None:
    with pytest.raises(ValueError, match="pending, running, completed, failed, cancelled"):
        storage.workflow_state.create_execution(execution(status=status))
    assert storage.workflow_state.get_execution("e1") is None
    storage.workflow_state.create_execution(execution())
    with pytest.raises(ValueError, match="status must be one of"):
        storage.workflow_state.update_execution("e1", status, NOW)
    found = storage.workflow_state.get_execution("e1")
    assert found is not None and found.status == "running"


def test_steps_are_upserted_by_name_and_iteration_and_listed_in_definition_order(
    storage: SqlStorage,
) -> None:
    wf = storage.workflow_state
    wf.create_execution(execution())
    wf.put_step("e1", step("second", position=1, status="running", output=None))
    wf.put_step("e1", step("first", position=0, output={"success": True, "result": 1}))
    wf.put_step(
        "e1",
        step(
            "second",
            position=1,
            status="failed",
            error="boom",
            finished_at=NOW + timedelta(milliseconds=5),
            duration_ms=5.0,
            attempts=3,
        ),
    )
    rows = wf.steps("e1")
    assert [(s.name, s.status) for s in rows] == [("first", "completed"), ("second", "failed")]
    assert rows[0].output == {"success": True, "result": 1}
    assert (rows[1].error, rows[1].duration_ms, rows[1].attempts) == ("boom", 5.0, 3)
    found = wf.get_execution("e1")
    assert found is not None and found.current_step == "second"


def test_loop_iterations_are_separate_rows_in_iteration_order(storage: SqlStorage) -> None:
    wf = storage.workflow_state
    wf.create_execution(execution(workflow_type="loop"))
    for i in (3, 1, 2):
        wf.put_step("e1", step("body", iteration=i, output=i * 10))
    assert [(s.iteration, s.output) for s in wf.steps("e1")] == [(1, 10), (2, 20), (3, 30)]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=json_values)
def test_any_json_step_output_round_trips(storage: SqlStorage, value: Any) -> None:
    wf = storage.workflow_state
    if wf.get_execution("e1") is None:
        wf.create_execution(execution())
    wf.put_step("e1", step(output={"v": value}))
    assert wf.steps("e1")[0].output == {"v": value}


def test_list_is_newest_first_and_filters_by_name_status_and_limit(storage: SqlStorage) -> None:
    wf = storage.workflow_state
    for i, (name, status) in enumerate(
        [("a", "completed"), ("b", "failed"), ("a", "failed"), ("a", "completed")]
    ):
        wf.create_execution(execution(f"e{i}", name, status, started_at=NOW + timedelta(seconds=i)))
    assert [e.execution_id for e in wf.list_executions()] == ["e3", "e2", "e1", "e0"]
    assert [e.execution_id for e in wf.list_executions("a")] == ["e3", "e2", "e0"]
    assert [e.execution_id for e in wf.list_executions(status="failed")] == ["e2", "e1"]
    assert [e.execution_id for e in wf.list_executions("a", "completed", limit=1)] == ["e3"]
    assert wf.list_executions(limit=0) == []
    assert wf.list_executions("nothing") == []


def test_list_rejects_a_negative_limit(storage: SqlStorage) -> None:
    with pytest.raises(ValueError, match="limit"):
        storage.workflow_state.list_executions(limit=-1)


def test_delete_removes_the_execution_and_its_steps(storage: SqlStorage) -> None:
    wf = storage.workflow_state
    wf.create_execution(execution())
    wf.create_execution(execution("keep"))
    wf.put_step("e1", step())
    wf.put_step("keep", step())
    assert wf.delete_execution("e1") is True
    assert wf.get_execution("e1") is None and wf.steps("e1") == []
    assert wf.delete_execution("e1") is False
    assert len(wf.steps("keep")) == 1


def test_an_oversize_output_is_rejected_naming_the_limit_and_nothing_is_lost(
    open_test_storage: Any,
) -> None:
    storage = open_test_storage(
        component_settings={"workflow_state": WorkflowStateSettings(max_output_bytes=100)}
    )
    wf = storage.workflow_state
    wf.create_execution(execution())
    wf.put_step("e1", step(output="small"))
    with pytest.raises(ValueError, match=r"output: .*limit is 100 bytes"):
        wf.put_step("e1", step(output="x" * 200))
    assert wf.steps("e1")[0].output == "small"


def test_non_json_outputs_are_rejected(storage: SqlStorage) -> None:
    storage.workflow_state.create_execution(execution())
    with pytest.raises(ValueError, match="cannot be stored as JSON"):
        storage.workflow_state.put_step("e1", step(output={"f": object()}))
    assert storage.workflow_state.steps("e1") == []


@pytest.mark.parametrize("iteration", [-1, True, 1.5])
def test_a_bad_iteration_is_rejected(storage: SqlStorage, iteration: Any) -> None:
    storage.workflow_state.create_execution(execution())
    with pytest.raises(ValueError, match="iteration"):
        storage.workflow_state.put_step("e1", step(iteration=iteration))


def test_times_are_timezone_aware_utc(storage: SqlStorage) -> None:
    wf = storage.workflow_state
    wf.create_execution(execution())
    wf.put_step("e1", step(finished_at=NOW + timedelta(seconds=1)))
    found = wf.get_execution("e1")
    assert found is not None and found.started_at == NOW
    assert found.started_at.utcoffset() == timedelta(0)
    assert wf.steps("e1")[0].finished_at == NOW + timedelta(seconds=1)


def test_a_second_open_of_the_same_database_sees_the_runs(
    open_test_storage: Any, storage_backend: str, unique_tenant: str
) -> None:
    open_test_storage(unique_tenant).workflow_state.create_execution(execution())
    again = open_test_storage(unique_tenant).workflow_state.get_execution("e1")
    if storage_backend == "memory":
        assert again is None, "each memory open is its own database"
    else:
        assert again is not None and again.workflow_name == "pipe"
