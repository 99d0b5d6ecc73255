"""The record of one workflow run: the execution and each attempt at a step in workflow state
(as it starts and as it ends), the steps' summaries, and the run's result table.

The executors (runtime/workflows/runner.py) decide what runs when; everything a run leaves
behind goes through a RunRecord.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmspell.runtime.agents import AgentTurn
    from llmspell.runtime.tools.registry import ToolCall
    from llmspell.runtime.workflows.definition import Step, WorkflowDefinition
    from llmspell.storage.components.workflow_state import WorkflowStateStore, WorkflowStep


@dataclass
class Attempt:
    """One attempt at one step (of one loop iteration)."""

    step: Step
    iteration: int
    number: int  # 1, 2, ... under the retry strategy
    started_at: datetime
    clock: float  # time.monotonic() at the start
    input: Any = None
    call: ToolCall | None = None
    turn: AgentTurn | None = None  # an agent step whose model requests run on the provider loop
    output: Any = None
    error: str | None = None
    ended: float = 0.0
    skipped: bool = False  # failed, and the default error handler said to go on

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def duration_ms(self) -> float:
        return (self.ended - self.clock) * 1000


@dataclass
class StepSummary:
    """A step as the run's result lists it (for the table and timeline of a notebook)."""

    name: str
    iteration: int
    status: str
    attempts: int
    duration_ms: float
    offset_ms: float  # start, relative to the start of this run
    error: str | None = None
    reused: bool = False  # output kept from an earlier run (resume)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "iteration": self.iteration,
            "status": self.status,
            "attempts": self.attempts,
            "duration_ms": round(self.duration_ms, 3),
            "offset_ms": round(self.offset_ms, 3),
            "reused": self.reused,
        }
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class RunRecord:
    """What one run of `definition` (execution `execution_id`) has done so far, kept in
    `store` as it happens."""

    store: WorkflowStateStore
    definition: WorkflowDefinition
    execution_id: str
    parent_id: str | None = None
    summaries: list[StepSummary] = field(default_factory=list)
    failures: list[Attempt] = field(default_factory=list)  # last attempts that failed, in order
    running: list[Attempt] = field(default_factory=list)
    clock: float = field(default_factory=time.monotonic)  # the run's start

    # --- the execution --------------------------------------------------------------------------

    def create(
        self,
        input_: Any,
        started_at: datetime,
        status: str,
        error: str | None = None,
        finished: bool = False,
    ) -> None:
        from llmspell.storage.components.workflow_state import WorkflowExecution

        self.store.create_execution(
            WorkflowExecution(
                execution_id=self.execution_id,
                workflow_name=self.definition.name,
                workflow_type=self.definition.kind,
                status=status,
                input=input_,
                started_at=started_at,
                updated_at=started_at,
                finished_at=started_at if finished else None,
                error=error,
                parent_id=self.parent_id,
            )
        )

    def resumed(self, started_at: datetime) -> None:
        self.store.update_execution(self.execution_id, "running", started_at)

    def branch_chosen(self, branch: str) -> None:
        """A conditional run's branch, kept so a resumed run takes the same one."""
        self.store.update_execution(
            self.execution_id, "running", datetime.now(UTC), context={"branch": branch}
        )

    def aborted(self, reason: str) -> None:
        """The run stopped (interrupt, timeout, a bug): the steps still running and the
        execution end as failed with `reason`."""
        for attempt in list(self.running):
            attempt.error = reason
            attempt.ended = time.monotonic()
            self.record(attempt, final=True)
        now = datetime.now(UTC)
        self.store.update_execution(self.execution_id, "failed", now, error=reason, finished_at=now)

    def timed_out(self, reason: str) -> None:
        """The run ran past its timeout: the steps still running fail with `reason`."""
        for attempt in list(self.running):
            attempt.error = reason
            attempt.ended = time.monotonic()
            self.record(attempt, final=True)
            self.settle(attempt)

    def finish(self, outputs: dict[str, Any], run_error: str | None = None) -> dict[str, Any]:
        """End the execution (completed, or failed: `run_error`, else at its first failed
        step) and return the run's result `{success, outputs, execution_id, duration_ms,
        error?, workflow, type, steps}` plus the reference's `status, workflow_type, text,
        metadata` (and for a parallel run `merged`, by its merge strategy)."""
        wf = self.definition
        error = run_error or self.error()
        now = datetime.now(UTC)
        self.store.update_execution(
            self.execution_id,
            "failed" if error else "completed",
            now,
            current_step=self.summaries[-1].name if self.summaries else None,
            error=error,
            finished_at=now,
        )
        result: dict[str, Any] = {
            "success": error is None,
            "outputs": outputs,
            "execution_id": self.execution_id,
            "duration_ms": round((time.monotonic() - self.clock) * 1000, 3),
            "workflow": wf.name,
            "type": wf.kind,
            "steps": [s.as_dict() for s in self.summaries],
            # the fields rs-llmspell v0.13.1 results carry (docs/reference/compatibility.md)
            "workflow_type": wf.kind,
            "status": "failed" if error else "completed",
            "text": _final_text(wf, outputs),
            "metadata": {
                "extra": {
                    "execution_id": self.execution_id,
                    "agent_outputs": _agent_outputs(wf, outputs),
                }
            },
        }
        if wf.kind == "parallel":
            result["merged"] = self._merged(outputs)
            if wf.merge_strategy != "combine":
                result["text"] = _text_of(result["merged"]) or ""
        if error is not None:
            result["error"] = error
        return result

    def _merged(self, outputs: dict[str, Any]) -> Any:
        """A parallel run's outputs merged by its strategy: `combine` every branch's output
        by name; `first` the output of the branch that succeeded first; `vote` the output
        most branches that succeeded agree on (ties: the one finished first); nil when no
        branch succeeded."""
        strategy = self.definition.merge_strategy
        if strategy == "combine":
            return outputs
        finished = [s.name for s in self.summaries if s.status == "completed" and not s.reused]
        reused = [s.name for s in self.summaries if s.status == "completed" and s.reused]
        succeeded = [outputs[name] for name in reused + finished if name in outputs]
        if not succeeded:
            return None
        if strategy == "first":
            return succeeded[0]
        # a step's output also holds its own timings: branches agree on their results
        texts = [
            json.dumps(
                output.get("result") if isinstance(output, dict) else output,
                sort_keys=True,
                default=str,
            )
            for output in succeeded
        ]
        best = max(range(len(texts)), key=lambda i: (texts.count(texts[i]), -i))
        return succeeded[best]

    def error(self) -> str | None:
        """The run's error: its first failed step's (and how many failed), None when none."""
        if not self.failures:
            return None
        first = self.failures[0]
        where = f" (iteration {first.iteration})" if first.iteration else ""
        error = f"step {first.step.name!r}{where} failed: {first.error}"
        if len(self.failures) > 1:
            error = f"{len(self.failures)} steps failed; first: {error}"
        return error

    # --- steps ----------------------------------------------------------------------------------

    def started(self, attempt: Attempt) -> None:
        self.running.append(attempt)
        self.record(attempt, final=False)

    def record(self, attempt: Attempt, final: bool) -> None:
        """Store the attempt as running, or (final) as ended with its output or error. An
        output that cannot be stored fails the attempt, saying why."""
        from llmspell.storage.components.workflow_state import WorkflowStep

        if final and attempt in self.running:
            self.running.remove(attempt)
        step = WorkflowStep(
            name=attempt.step.name,
            iteration=attempt.iteration,
            position=attempt.step.position,
            status=("completed" if attempt.ok else "failed") if final else "running",
            started_at=attempt.started_at,
            output=attempt.output if final else None,
            error=attempt.error if final else None,
            finished_at=attempt.started_at + timedelta(milliseconds=attempt.duration_ms)
            if final
            else None,
            duration_ms=round(attempt.duration_ms, 3) if final else None,
            attempts=attempt.number,
        )
        try:
            self.store.put_step(self.execution_id, step)
        except ValueError as exc:  # the output is not JSON-able or too large to keep
            attempt.error = f"the step's output cannot be stored: {exc}"
            attempt.output = None
            self.store.put_step(
                self.execution_id,
                replace(step, status="failed", output=None, error=attempt.error),
            )

    def settle(self, attempt: Attempt) -> None:
        """The attempt is the step's last: list it, and count it when it failed."""
        self.summaries.append(
            StepSummary(
                name=attempt.step.name,
                iteration=attempt.iteration,
                status="completed" if attempt.ok else "failed",
                attempts=attempt.number,
                duration_ms=attempt.duration_ms,
                offset_ms=(attempt.clock - self.clock) * 1000,
                error=attempt.error,
            )
        )
        if not attempt.ok:
            self.failures.append(attempt)

    def reuse(self, prior: WorkflowStep) -> None:
        """A step completed by an earlier run of this execution (resume): listed, not run."""
        self.summaries.append(
            StepSummary(
                name=prior.name,
                iteration=prior.iteration,
                status="completed",
                attempts=prior.attempts,
                duration_ms=prior.duration_ms or 0.0,
                offset_ms=0.0,
                reused=True,
            )
        )

    def failed_without_a_step(self, step: Step, iteration: int, error: str) -> None:
        """A failure of the run at `step` that no attempt made (a loop over its bound)."""
        attempt = Attempt(step, iteration, 1, datetime.now(UTC), time.monotonic())
        attempt.error = error
        attempt.ended = attempt.clock
        self.failures.append(attempt)


def _agent_outputs(wf: WorkflowDefinition, outputs: dict[str, Any]) -> dict[str, Any]:
    """The outputs of the run's agent steps, by step name."""
    return {
        step.name: outputs[step.name]
        for step in wf.all_steps()
        if step.type == "agent" and step.name in outputs
    }


def _final_text(wf: WorkflowDefinition, outputs: dict[str, Any]) -> str:
    """The run's text: the text of its last step that produced one (an agent's reply, a
    string result), "" when none did."""
    for step in reversed(wf.all_steps()):
        output = outputs.get(step.name)
        for value in reversed(output) if isinstance(output, list) else [output]:
            text = _text_of(value)
            if text is not None:
                return text
    return ""


def _text_of(output: Any) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        for key in ("text", "result"):
            if isinstance(output.get(key), str):
                return str(output[key])
    return None
