"""WorkflowManager: runs workflow definitions and reads back what workflow state recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, InvalidState, NotFound
from llmspell.runtime.workflows.runner import WorkflowRun
from llmspell.runtime.workflows.steps import RunServices

# (running step or None, steps finished so far), see RunServices.progress
Progress = Callable[[str | None, int], None]

if TYPE_CHECKING:
    from llmspell.runtime.agents import AgentRegistry
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.tools.registry import ToolRegistry
    from llmspell.runtime.workflows.definition import WorkflowDefinition
    from llmspell.storage.components.workflow_state import (
        WorkflowExecution,
        WorkflowStateStore,
        WorkflowStep,
    )


class WorkflowManager:
    """Runs workflows of one runtime and answers questions about past runs."""

    def __init__(
        self,
        store: Callable[[], WorkflowStateStore],
        tools: Callable[[], ToolRegistry],
        hooks: Callable[[], HookRegistry],
        agents: Callable[[], AgentRegistry],
    ) -> None:
        self._store = store  # opens storage on first use
        self.default_error_handler: Callable[..., Any] | None = None  # setDefaultErrorHandler
        self._tools = tools
        self._hooks = hooks
        self._agents = agents

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> WorkflowManager:
        from llmspell.runtime.agents import AgentRegistry
        from llmspell.runtime.hooks import HookRegistry
        from llmspell.runtime.tools.registry import ToolRegistry

        return cls(
            lambda: infra.storage.workflow_state,
            lambda: infra.get(ToolRegistry),
            lambda: infra.get(HookRegistry),
            lambda: infra.get(AgentRegistry),
        )

    def _services(
        self, stop_requested: Callable[[], bool], progress: Progress | None
    ) -> RunServices:
        services = RunServices(
            self._store(),
            self._tools(),
            self._hooks(),
            stop_requested,
            self._agents,
            error_handler=self.default_error_handler,
        )
        return services if progress is None else replace(services, progress=progress)

    def execute(
        self,
        definition: WorkflowDefinition,
        input_: Any,
        stop_requested: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Run `definition` as a new execution; the result table of the run. `progress` is
        told of each step's start and end (RunServices.progress)."""
        run = WorkflowRun(
            self._services(stop_requested, progress), definition, str(uuid.uuid4()), input_
        )
        return run.run()

    def resume(
        self,
        definition: WorkflowDefinition,
        execution_id: str,
        stop_requested: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Run a failed or unfinished execution again from its first failed or unfinished
        step, with the stored outputs of the steps before it."""
        execution = self.execution(execution_id)
        if execution.workflow_name != definition.name:
            raise InvalidArgument(
                f"execution {execution_id} is a run of workflow {execution.workflow_name!r}, "
                f"not {definition.name!r}"
            )
        if execution.status == "completed":
            raise InvalidState(
                f"execution {execution_id} completed successfully; there is nothing to resume"
            )
        store = self._store()
        prior = {(s.name, s.iteration): s for s in store.steps(execution_id)}
        run = WorkflowRun(
            self._services(stop_requested, progress),
            definition,
            execution_id,
            execution.input,
            parent_id=execution.parent_id,
            prior=prior,
            prior_context=dict(execution.context),
        )
        return run.run()

    def execution(self, execution_id: str) -> WorkflowExecution:
        """The execution `execution_id`; NotFound if there is none."""
        if not isinstance(execution_id, str) or not execution_id:
            raise InvalidArgument(f"execution_id must be a non-empty string, got {execution_id!r}")
        found = self._store().get_execution(execution_id)
        if found is None:
            raise NotFound(f"no workflow execution {execution_id}")
        return found

    def executions(
        self, name: str | None = None, status: str | None = None, limit: int | None = None
    ) -> list[WorkflowExecution]:
        """Past runs, newest first."""
        return self._store().list_executions(name, status, limit)

    def steps(self, execution_id: str) -> list[WorkflowStep]:
        """The recorded steps of an execution (none when it does not exist)."""
        return self._store().steps(execution_id)

    def step_output(self, execution_id: str, step: str) -> Any:
        """The stored output of `step`: its result table, or for a loop body step the list of
        its per-iteration outputs; None when the step has no stored output."""
        rows = [s for s in self.steps(execution_id) if s.name == step]
        if not rows:
            return None
        if any(s.iteration for s in rows):
            return [s.output for s in sorted(rows, key=lambda s: s.iteration)]
        return rows[0].output

    def step_names(self, execution_id: str) -> list[str]:
        """Sorted names of the steps recorded for an execution."""
        return sorted({s.name for s in self.steps(execution_id)})
