"""Component 5, workflow state: every workflow execution and each of its steps, as the run goes.

An execution row holds the run (workflow name and type, input, status, current step, error,
times); a step row holds one step of it (one row per loop iteration), with its output, status,
error, duration and attempts. Rows are written while the run goes (a step is `running` before it
finishes), so a crashed or interrupted run is still there to inspect and resume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    select,
    update,
)

from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.upsert import upsert_into
from llmspell.storage.values import (
    check_limit,
    json_text,
    mebibytes,
    message_text,
    optional_text,
    require_text,
)

__all__ = [
    "EXECUTION_STATUSES",
    "STEP_STATUSES",
    "SqlWorkflowStateStore",
    "WorkflowExecution",
    "WorkflowStateSettings",
    "WorkflowStateStore",
    "WorkflowStep",
]

EXECUTION_STATUSES = ("pending", "running", "completed", "failed", "cancelled")
STEP_STATUSES = ("running", "completed", "failed", "skipped")


@dataclass(frozen=True)
class WorkflowExecution:
    """One run of a workflow."""

    execution_id: str
    workflow_name: str
    workflow_type: str  # sequential | parallel | conditional | loop
    status: str  # one of EXECUTION_STATUSES
    input: Any
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    current_step: str | None = None
    error: str | None = None
    parent_id: str | None = None  # the execution that ran this one as a `workflow` step
    context: dict[str, Any] = field(default_factory=dict)  # e.g. the branch a conditional took


@dataclass(frozen=True)
class WorkflowStep:
    """One step of an execution (of one loop iteration, when `iteration` > 0)."""

    name: str
    iteration: int  # 0 outside loops; 1, 2, ... for the iterations of a loop body
    position: int  # the step's place in its workflow's definition
    status: str  # one of STEP_STATUSES
    started_at: datetime
    output: Any = None
    error: str | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    attempts: int = 1


class WorkflowStateStore(Protocol):
    """Workflow executions and their steps, for one tenant."""

    def create_execution(self, execution: WorkflowExecution) -> None:
        """Record a new execution (its id must be new)."""
        ...

    def update_execution(
        self,
        execution_id: str,
        status: str,
        updated_at: datetime,
        *,
        current_step: str | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
        context: dict[str, Any] | None = None,
    ) -> bool:
        """Set status, current step, error, finish time (and context when given); false if the
        execution does not exist."""
        ...

    def get_execution(self, execution_id: str) -> WorkflowExecution | None: ...
    def list_executions(
        self,
        workflow_name: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[WorkflowExecution]:
        """Executions, newest first, optionally of one workflow and/or one status."""
        ...

    def put_step(self, execution_id: str, step: WorkflowStep) -> None:
        """Insert or replace the row of (`step.name`, `step.iteration`); the execution's
        current step becomes `step.name`."""
        ...

    def steps(self, execution_id: str) -> list[WorkflowStep]:
        """The execution's steps in definition order (iterations in order)."""
        ...

    def delete_execution(self, execution_id: str) -> bool:
        """Delete an execution and its steps; true if it existed."""
        ...


@dataclass(frozen=True)
class WorkflowStateSettings:
    """Limits of the workflow-state store (config: `storage.max_value_mb`)."""

    max_output_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_output_bytes < 1:
            raise ValueError(f"max_output_bytes must be positive, got {self.max_output_bytes}")


workflow_executions = Table(
    "workflow_executions",
    metadata,
    tenant_column(),
    Column("execution_id", Text, nullable=False),
    Column("workflow_name", Text, nullable=False),
    Column("workflow_type", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("input", Text, nullable=False),  # JSON
    Column("current_step", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("parent_id", Text, nullable=True),
    Column("context", Text, nullable=False),  # JSON object
    Column("started_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    PrimaryKeyConstraint("tenant_id", "execution_id"),
    Index(None, "tenant_id", "workflow_name", "started_at"),
    Index(None, "tenant_id", "status", "started_at"),
)

workflow_steps = Table(
    "workflow_steps",
    metadata,
    tenant_column(),
    Column("execution_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("iteration", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("output", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("duration_ms", Float, nullable=True),
    Column("attempts", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id", "execution_id", "name", "iteration"),
)


def _status(value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"status must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


class SqlWorkflowStateStore:
    """`WorkflowStateStore` on any SQL backend, for one tenant (statements built once)."""

    def __init__(self, db: Database, tenant: Tenant, settings: WorkflowStateSettings) -> None:
        self._db = db
        self.tenant_id = tenant.id
        self.max_output_bytes = settings.max_output_bytes
        e, s = workflow_executions, workflow_steps
        self._insert_execution = e.insert().values(tenant.values())
        # UPDATEs name the row by `run_id`: a bind named like a column is reserved for SET.
        this_run = and_(tenant.where(e), e.c.execution_id == bindparam("run_id"))
        # SET takes the columns of the parameters given (status, error, ... and context).
        self._update_execution = update(e).where(this_run)
        self._get_execution = select(e).where(tenant.where(e, "execution_id"))
        newest = select(e).order_by(e.c.started_at.desc(), e.c.execution_id)
        base = tenant.where(e)
        self._list = {
            (False, False): newest.where(base),
            (True, False): newest.where(base, e.c.workflow_name == bindparam("workflow_name")),
            (False, True): newest.where(base, e.c.status == bindparam("status")),
            (True, True): newest.where(
                base,
                e.c.workflow_name == bindparam("workflow_name"),
                e.c.status == bindparam("status"),
            ),
        }
        upsert = upsert_into(db.dialect_name, s).values(tenant.values())
        self._put_step = upsert.on_conflict_do_update(
            index_elements=[s.c.tenant_id, s.c.execution_id, s.c.name, s.c.iteration],
            set_={
                column: getattr(upsert.excluded, column)
                for column in (
                    "position",
                    "status",
                    "output",
                    "error",
                    "started_at",
                    "finished_at",
                    "duration_ms",
                    "attempts",
                )
            },
        )
        self._steps = (
            select(s)
            .where(tenant.where(s, "execution_id"))
            .order_by(s.c.position, s.c.iteration, s.c.started_at)
        )
        self._delete_steps = delete(s).where(tenant.where(s, "execution_id"))
        self._delete_execution = delete(e).where(tenant.where(e, "execution_id"))

    def _json(self, what: str, value: Any) -> str:
        try:
            return json_text("value", value, self.max_output_bytes)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None

    def create_execution(self, execution: WorkflowExecution) -> None:
        params = {
            "execution_id": require_text("execution_id", execution.execution_id),
            "workflow_name": require_text("workflow_name", execution.workflow_name),
            "workflow_type": require_text("workflow_type", execution.workflow_type),
            "status": _status(execution.status, EXECUTION_STATUSES),
            "input": self._json("input", execution.input),
            "current_step": optional_text("current_step", execution.current_step),
            "error": message_text(execution.error),
            "parent_id": optional_text("parent_id", execution.parent_id),
            "context": self._json("context", execution.context),
            "started_at": execution.started_at,
            "updated_at": execution.updated_at,
            "finished_at": execution.finished_at,
        }
        with self._db.transaction(write=True) as conn:
            conn.execute(self._insert_execution, params)

    def update_execution(
        self,
        execution_id: str,
        status: str,
        updated_at: datetime,
        *,
        current_step: str | None = None,
        error: str | None = None,
        finished_at: datetime | None = None,
        context: dict[str, Any] | None = None,
    ) -> bool:
        params: dict[str, Any] = {
            "execution_id": require_text("execution_id", execution_id),
            "status": _status(status, EXECUTION_STATUSES),
            "updated_at": updated_at,
            "current_step": optional_text("current_step", current_step),
            "error": message_text(error),
            "finished_at": finished_at,
        }
        if context is not None:
            params["context"] = self._json("context", context)
        run_id = params.pop("execution_id")
        with self._db.transaction(write=True) as conn:
            return bool(conn.execute(self._update_execution, {**params, "run_id": run_id}).rowcount)

    def get_execution(self, execution_id: str) -> WorkflowExecution | None:
        params = {"execution_id": require_text("execution_id", execution_id)}
        with self._db.transaction() as conn:
            row = conn.execute(self._get_execution, params).mappings().first()
        return None if row is None else _execution(row)

    def list_executions(
        self,
        workflow_name: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[WorkflowExecution]:
        check_limit(limit)
        params: dict[str, Any] = {}
        if workflow_name is not None:
            params["workflow_name"] = require_text("workflow_name", workflow_name)
        if status is not None:
            params["status"] = _status(status, EXECUTION_STATUSES)
        stmt = self._list[(workflow_name is not None, status is not None)]
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.transaction() as conn:
            rows = conn.execute(stmt, params).mappings().all()
        return [_execution(row) for row in rows]

    def put_step(self, execution_id: str, step: WorkflowStep) -> None:
        if isinstance(step.iteration, bool) or not isinstance(step.iteration, int):
            raise ValueError(f"iteration must be an integer, got {step.iteration!r}")
        if step.iteration < 0:
            raise ValueError(f"iteration must be >= 0, got {step.iteration}")
        params = {
            "execution_id": require_text("execution_id", execution_id),
            "name": require_text("step name", step.name),
            "iteration": step.iteration,
            "position": step.position,
            "status": _status(step.status, STEP_STATUSES),
            "output": None if step.output is None else self._json("output", step.output),
            "error": message_text(step.error),
            "started_at": step.started_at,
            "finished_at": step.finished_at,
            "duration_ms": step.duration_ms,
            "attempts": step.attempts,
        }
        with self._db.transaction(write=True) as conn:
            conn.execute(self._put_step, params)
            conn.execute(
                self._update_execution,
                {
                    "run_id": execution_id,
                    "current_step": step.name,
                    "updated_at": step.finished_at or step.started_at,
                },
            )

    def steps(self, execution_id: str) -> list[WorkflowStep]:
        params = {"execution_id": require_text("execution_id", execution_id)}
        with self._db.transaction() as conn:
            rows = conn.execute(self._steps, params).mappings().all()
        return [_step(row) for row in rows]

    def delete_execution(self, execution_id: str) -> bool:
        params = {"execution_id": require_text("execution_id", execution_id)}
        with self._db.transaction(write=True) as conn:
            conn.execute(self._delete_steps, params)
            return bool(conn.execute(self._delete_execution, params).rowcount)


def _execution(row: Any) -> WorkflowExecution:
    return WorkflowExecution(
        execution_id=row["execution_id"],
        workflow_name=row["workflow_name"],
        workflow_type=row["workflow_type"],
        status=row["status"],
        input=json.loads(row["input"]),
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
        current_step=row["current_step"],
        error=row["error"],
        parent_id=row["parent_id"],
        context=json.loads(row["context"]),
    )


def _step(row: Any) -> WorkflowStep:
    return WorkflowStep(
        name=row["name"],
        iteration=int(row["iteration"]),
        position=int(row["position"]),
        status=row["status"],
        started_at=row["started_at"],
        output=None if row["output"] is None else json.loads(row["output"]),
        error=row["error"],
        finished_at=row["finished_at"],
        duration_ms=row["duration_ms"],
        attempts=int(row["attempts"]),
    )


COMPONENT = Component(
    name="workflow_state",
    title="workflow executions and their steps, persisted as they run (Workflow)",
    protocol=WorkflowStateStore,
    tables=(workflow_executions, workflow_steps),
    store=SqlWorkflowStateStore,
    settings=WorkflowStateSettings,
    from_config=lambda storage: WorkflowStateSettings(
        max_output_bytes=mebibytes(storage.max_value_mb)
    ),
)
