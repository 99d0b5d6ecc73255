"""The work of one step of a workflow run: its input and hooks, then a tool call, a lua
function, an agent's turn (whose model requests may overlap with other steps') or a nested
workflow. Failures become the attempt's error; the run decides what follows
(runtime/workflows/runner.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import ScriptStopping
from llmspell.runtime.workflows.placeholders import substitute
from llmspell.runtime.workflows.record import Attempt

if TYPE_CHECKING:
    from llmspell.runtime.agents import AgentRegistry
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.providers import PendingCall
    from llmspell.runtime.tools.registry import ToolRegistry
    from llmspell.runtime.workflows.definition import Step
    from llmspell.storage.components.workflow_state import WorkflowStateStore


@dataclass(frozen=True)
class RunServices:
    """What a run needs from the runtime."""

    store: WorkflowStateStore
    tools: ToolRegistry
    hooks: HookRegistry
    stop_requested: Callable[[], bool]
    agents: Callable[[], AgentRegistry]
    # progress(running step or None, steps finished so far): after each step starts and ends
    progress: Callable[[str | None, int], None] = lambda running, finished: None
    # Workflow.setDefaultErrorHandler's fn(error, context) -> "retry" | "skip" | "fail", asked
    # about a failed step of a workflow without an error_strategy of its own
    error_handler: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None


@dataclass
class StepWork:
    """Does steps' work for the run `execution_id` of workflow `workflow_name`; a nested
    workflow step goes to `run_child` (the run makes and runs the child run)."""

    services: RunServices
    workflow_name: str
    execution_id: str
    run_child: Callable[[Attempt], None]

    def stage(self, attempt: Attempt, input_: Any, outputs: Mapping[str, Any]) -> None:
        """Fill the attempt's input and run BeforeWorkflowStage (and for a tool,
        BeforeToolExecution); a failure here is the attempt's error."""
        step = attempt.step
        try:
            if step.input is not None:
                stage_input = substitute(step.input, input_, outputs)
            else:
                stage_input = {} if step.type == "tool" else input_
            staged = self.services.hooks.run(
                "BeforeWorkflowStage",
                self.workflow_name,
                {"step": step.name, "input": stage_input},
                self.execution_id,
            )
            attempt.input = staged.get("input") if isinstance(staged, dict) else stage_input
            if step.type == "tool":
                attempt.call = self.services.tools.prepare(
                    step.tool or "", attempt.input, self.execution_id
                )
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.error = str(exc)

    def pooled(self, step: Step) -> bool:
        """Whether the step's work is Python-side (a built-in tool), so any thread may do it."""
        tools = self.services.tools
        return (
            step.type == "tool"
            and tools.exists(step.tool or "")
            and not tools.get(step.tool or "").script_side
        )

    def work(self, attempt: Attempt) -> None:
        """Do the step's work on this thread; a failure is the attempt's error."""
        step = attempt.step
        try:
            if step.type == "tool":
                assert attempt.call is not None
                attempt.call.run()
                self.collect_call(attempt)
            elif step.type == "lua":
                assert step.fn is not None
                attempt.output = {"success": True, "result": step.fn(attempt.input)}
            elif step.type == "workflow":
                self.run_child(attempt)
            else:
                self.agent(attempt)
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.error = str(exc) or type(exc).__name__
        attempt.ended = time.monotonic()

    # --- agent steps ---------------------------------------------------------------------------

    def agent(self, attempt: Attempt) -> None:
        """Run an agent step on this thread, to its end."""
        from llmspell.runtime.agents import workflow_input

        agents = self.services.agents()
        agent = agents.require(attempt.step.agent or "")
        result = agents.execute(agent, workflow_input(attempt.input), self.services.stop_requested)
        attempt.output = agent_output(result)

    def start_turn(self, attempt: Attempt) -> Future[Any] | None:
        """Start an agent step whose model requests may overlap with other steps' (a parallel
        workflow). None when the step is not of that kind (a composite agent, which `_work`
        runs here) or failed to start (`attempt.error`)."""
        from llmspell.runtime.agents import workflow_input

        try:
            agents = self.services.agents()
            agent = agents.require(attempt.step.agent or "")
            if agent.spec.type == "composite":
                return None
            attempt.turn = agents.turn(agent, workflow_input(attempt.input))
            return _future_of(attempt.turn.start())
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.turn = None
            attempt.error = str(exc) or type(exc).__name__
            attempt.ended = time.monotonic()
            return None

    def advance_turn(self, attempt: Attempt) -> Future[Any] | None:
        """After an agent step's model reply: its next request, or None when it has ended."""
        assert attempt.turn is not None
        try:
            pending = attempt.turn.advance()
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.error = str(exc) or type(exc).__name__
            pending = None
        if pending is not None:
            return _future_of(pending)
        if attempt.turn.result is not None:
            attempt.output = agent_output(attempt.turn.result)
        attempt.ended = time.monotonic()
        return None

    def collect_pooled(self, attempt: Attempt, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:  # ToolCall.run keeps tool failures; this is a bug or interrupt
            attempt.error = f"{type(error).__name__}: {error}"
        else:
            self.collect_call(attempt)
        attempt.ended = time.monotonic()
        call = attempt.call
        if call is not None and call.finished:
            # the pooled work's own times, so the timeline shows when it really ran
            attempt.clock, attempt.ended = call.started, call.finished

    def collect_call(self, attempt: Attempt) -> None:
        assert attempt.call is not None
        result = self.services.tools.finish(attempt.call)
        attempt.output = result
        if not (isinstance(result, dict) and result.get("success")):
            error = result.get("error") if isinstance(result, dict) else None
            attempt.error = str(error or "the tool reported success = false")


def agent_output(result: dict[str, Any]) -> dict[str, Any]:
    """An agent step's output: the agent's result table, with `result` = its reply text (so
    `{{step.<name>.result}}` is the reply)."""
    return {**result, "result": result.get("text")}


def _future_of(pending: PendingCall) -> Future[Any]:
    assert pending.future is not None
    return pending.future
