"""One run of a workflow: steps in order, in parallel, by branch or by iteration, each recorded
in workflow state as it starts and as it ends.

Threads: the run belongs to the script's thread. Steps whose work is Python-side (built-in
tools) may run in a bounded thread pool; everything that may call a script function — lua
steps, user tools, nested workflows, hooks — runs on the script's thread, because a script
engine is single-threaded. A stop request (interrupt, timeout) is checked between steps and
while pooled steps run; a lua step is stopped inside by the engine itself. A stopped run is
recorded as failed ("interrupted"), never lost.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import DomainError, ScriptStopping
from llmspell.runtime.workflows.placeholders import substitute

if TYPE_CHECKING:
    from llmspell.runtime.agents import AgentRegistry, AgentTurn
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.providers import PendingCall
    from llmspell.runtime.tools.registry import ToolCall, ToolRegistry
    from llmspell.runtime.workflows.definition import Step, WorkflowDefinition
    from llmspell.storage.components.workflow_state import WorkflowStateStore, WorkflowStep

POLL_S = 0.05  # how often a waiting run looks for a stop request


class WorkflowInterrupted(DomainError):
    """The run was stopped (interrupt or timeout); it is recorded as failed."""

    ename = "KeyboardInterrupt"


class StepFailed(Exception):
    """A step could not run; the message is its error."""


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
class WorkflowRun:
    """Runs `definition` once (a new execution, or a resumed one with `prior` steps)."""

    services: RunServices
    definition: WorkflowDefinition
    execution_id: str
    input: Any
    parent_id: str | None = None
    prior: dict[tuple[str, int], WorkflowStep] = field(default_factory=dict)
    prior_context: dict[str, Any] | None = None  # set when resuming
    summaries: list[StepSummary] = field(default_factory=list)
    _running: list[Attempt] = field(default_factory=list)
    _clock: float = 0.0
    _failures: list[Attempt] = field(default_factory=list)

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """The run's result `{success, outputs, execution_id, duration_ms, error?, workflow,
        type, steps}` plus the reference's `status, workflow_type, text, metadata`; raises
        WorkflowInterrupted when stopped, HookCancelled when a BeforeWorkflowStart hook
        cancels."""
        wf, store, hooks = self.definition, self.services.store, self.services.hooks
        self._clock = time.monotonic()
        started_at = datetime.now(UTC)
        resuming = self.prior_context is not None
        try:
            self.input = hooks.run("BeforeWorkflowStart", wf.name, self.input, self.execution_id)
        except DomainError as exc:
            if not resuming:
                self._create(started_at, "cancelled", error=str(exc), finished=True)
            raise
        if resuming:
            store.update_execution(self.execution_id, "running", started_at)
        else:
            self._create(started_at, "running")
        outputs: dict[str, Any] = {}
        try:
            self._body(outputs)
        except BaseException as exc:  # interrupt, timeout, a bug: the run is recorded, not lost
            reason = "interrupted" if self._stopping(exc) else f"{type(exc).__name__}: {exc}"
            for attempt in list(self._running):
                attempt.error = reason
                attempt.ended = time.monotonic()
                self._record(attempt, final=True)
            now = datetime.now(UTC)
            store.update_execution(self.execution_id, "failed", now, error=reason, finished_at=now)
            raise
        return self._finish(outputs)

    def _stopping(self, exc: BaseException) -> bool:
        return isinstance(exc, (WorkflowInterrupted, ScriptStopping)) or not isinstance(
            exc, Exception
        )

    def _create(
        self, started_at: datetime, status: str, error: str | None = None, finished: bool = False
    ) -> None:
        from llmspell.storage.components.workflow_state import WorkflowExecution

        self.services.store.create_execution(
            WorkflowExecution(
                execution_id=self.execution_id,
                workflow_name=self.definition.name,
                workflow_type=self.definition.kind,
                status=status,
                input=self.input,
                started_at=started_at,
                updated_at=started_at,
                finished_at=started_at if finished else None,
                error=error,
                parent_id=self.parent_id,
            )
        )

    def _finish(self, outputs: dict[str, Any]) -> dict[str, Any]:
        wf, hooks = self.definition, self.services.hooks
        failure = self._failures[0] if self._failures else None
        error = None
        if failure is not None:
            where = f" (iteration {failure.iteration})" if failure.iteration else ""
            error = f"step {failure.step.name!r}{where} failed: {failure.error}"
            if len(self._failures) > 1:
                error = f"{len(self._failures)} steps failed; first: {error}"
        now = datetime.now(UTC)
        self.services.store.update_execution(
            self.execution_id,
            "failed" if failure else "completed",
            now,
            current_step=self._last_step(),
            error=error,
            finished_at=now,
        )
        result: dict[str, Any] = {
            "success": failure is None,
            "outputs": outputs,
            "execution_id": self.execution_id,
            "duration_ms": round((time.monotonic() - self._clock) * 1000, 3),
            "workflow": wf.name,
            "type": wf.kind,
            "steps": [s.as_dict() for s in self.summaries],
            # the fields rs-llmspell v0.13.1 results carry (docs/reference/compatibility.md)
            "workflow_type": wf.kind,
            "status": "failed" if failure else "completed",
            "text": _final_text(wf, outputs),
            "metadata": {
                "extra": {
                    "execution_id": self.execution_id,
                    "agent_outputs": _agent_outputs(wf, outputs),
                }
            },
        }
        if error is not None:
            result["error"] = error
            hooks.run(
                "WorkflowError",
                wf.name,
                {"step": failure.step.name if failure else None, "error": error},
                self.execution_id,
            )
        completed: dict[str, Any] = hooks.run(
            "AfterWorkflowComplete", wf.name, result, self.execution_id
        )
        return completed

    def _last_step(self) -> str | None:
        return self.summaries[-1].name if self.summaries else None

    def _body(self, outputs: dict[str, Any]) -> None:
        wf = self.definition
        if wf.kind == "sequential":
            self._sequence(wf.steps, self.input, outputs, 0)
        elif wf.kind == "parallel":
            self._parallel(wf.steps, self.input, outputs)
        elif wf.kind == "conditional":
            self._sequence(self._branch(), self.input, outputs, 0)
        else:
            self._loop(outputs)

    # --- kinds --------------------------------------------------------------------------------

    def _sequence(
        self, steps: tuple[Step, ...], input_: Any, outputs: dict[str, Any], iteration: int
    ) -> None:
        rerunning = False  # after the first step that runs again, every later one runs again
        for step in steps:
            self._check_stop()
            prior = self.prior.get((step.name, iteration))
            if prior is not None and prior.status == "completed" and not rerunning:
                outputs[step.name] = prior.output
                self._reuse(prior)
                continue
            rerunning = True
            attempt = self._with_retries(step, input_, outputs, iteration)
            if attempt.output is not None or attempt.ok:
                outputs[step.name] = attempt.output
            if not attempt.ok and self.definition.error_strategy.kind != "continue":
                return

    def _with_retries(
        self, step: Step, input_: Any, outputs: Mapping[str, Any], iteration: int
    ) -> Attempt:
        strategy = self.definition.error_strategy
        number = 1
        while True:
            attempt = self._start(step, input_, outputs, iteration, number)
            if attempt.ok:
                self._work(attempt)
            self._complete(attempt)
            if attempt.ok or strategy.kind != "retry" or number >= strategy.max_attempts:
                self._settle(attempt)
                return attempt
            number += 1
            self._sleep(strategy.delay_s(number))

    def _parallel(self, steps: tuple[Step, ...], input_: Any, outputs: dict[str, Any]) -> None:
        strategy = self.definition.error_strategy
        pending: deque[tuple[Step, int]] = deque()
        for step in steps:
            prior = self.prior.get((step.name, 0))
            if prior is not None and prior.status == "completed":
                outputs[step.name] = prior.output
                self._reuse(prior)
            else:
                pending.append((step, 1))
        limit = self.definition.max_concurrency or max(len(pending), 1)
        pooled = sum(1 for step, _ in pending if self._pooled(step))
        pool = ThreadPoolExecutor(max_workers=min(limit, pooled)) if pooled else None
        in_flight: dict[Future[Any], Attempt] = {}
        delayed: list[tuple[float, Step, int]] = []  # retries waiting for their backoff

        def settle(attempt: Attempt) -> None:
            if (
                not attempt.ok
                and strategy.kind == "retry"
                and attempt.number < strategy.max_attempts
            ):
                ready = time.monotonic() + strategy.delay_s(attempt.number + 1)
                delayed.append((ready, attempt.step, attempt.number + 1))
                return
            self._settle(attempt)
            if attempt.output is not None or attempt.ok:
                outputs[attempt.step.name] = attempt.output

        try:
            while pending or in_flight or delayed:
                self._check_stop()
                now = time.monotonic()
                for entry in [d for d in delayed if d[0] <= now]:
                    delayed.remove(entry)
                    pending.appendleft((entry[1], entry[2]))
                stop_starting = bool(self._failures) and strategy.kind != "continue"
                while pending and len(in_flight) < limit and not stop_starting:
                    step, number = pending.popleft()
                    attempt = self._start(step, input_, outputs, 0, number)
                    if (
                        attempt.ok
                        and pool is not None
                        and attempt.call is not None
                        and self._pooled(step)
                    ):
                        in_flight[pool.submit(attempt.call.run)] = attempt
                        continue
                    if attempt.ok and step.type == "agent":
                        started = self._start_turn(attempt)
                        if started is not None:
                            in_flight[started] = attempt
                            continue
                    if attempt.ok:
                        self._work(attempt)
                    self._complete(attempt)
                    settle(attempt)
                    stop_starting = bool(self._failures) and strategy.kind != "continue"
                if stop_starting and not in_flight:
                    pending.clear()
                    delayed.clear()
                if in_flight:
                    done, _ = wait(list(in_flight), timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in done:
                        attempt = in_flight.pop(future)
                        if attempt.turn is not None:
                            following = self._advance_turn(attempt)
                            if following is not None:
                                in_flight[following] = attempt
                                continue
                        else:
                            self._collect_pooled(attempt, future)
                        self._complete(attempt)
                        settle(attempt)
                elif delayed and not pending:
                    self._sleep(
                        min(POLL_S, max(0.0, min(d[0] for d in delayed) - time.monotonic()))
                    )
        finally:
            for attempt in in_flight.values():
                if attempt.turn is not None:
                    attempt.turn.cancel()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def _branch(self) -> tuple[Step, ...]:
        wf = self.definition
        assert wf.condition is not None
        branch = (self.prior_context or {}).get("branch")
        if branch not in ("then", "else"):
            branch = "then" if self._condition_holds() else "else"
            self.services.store.update_execution(
                self.execution_id, "running", datetime.now(UTC), context={"branch": branch}
            )
        return wf.steps if branch == "then" else wf.else_steps

    def _condition_holds(self) -> bool:
        condition = self.definition.condition
        assert condition is not None
        if condition.kind == "always":
            return True
        if condition.kind == "never":
            return False
        if condition.kind == "function":
            assert condition.fn is not None
            return truthy(condition.fn(self.input))
        found, value = _field(self.input, condition.key or "")
        if condition.kind == "input_exists":
            return found and value is not None
        return found and value == condition.value

    def _loop(self, outputs: dict[str, Any]) -> None:
        wf = self.definition
        loop = wf.loop
        assert loop is not None
        base = self.input if isinstance(self.input, dict) else {}
        for step in wf.steps:
            outputs[step.name] = []
        previous: dict[str, Any] | None = None
        index = 0
        while True:
            index += 1
            self._check_stop()
            if loop.items is not None:
                if index > len(loop.items):
                    return
                item: Any = loop.items[index - 1]
            else:
                item = index
                if not self._iteration_done(index):
                    assert loop.while_fn is not None
                    if not truthy(loop.while_fn(self.input, index, previous)):
                        return
                    if index > loop.max_iterations:
                        self._fail_loop(index, loop.max_iterations)
                        return
            iteration_outputs: dict[str, Any] = {}
            failures = len(self._failures)
            self._sequence(
                wf.steps, {**base, "item": item, "index": index}, iteration_outputs, index
            )
            for step in wf.steps:
                outputs[step.name].append(iteration_outputs.get(step.name))
            previous = iteration_outputs
            if len(self._failures) > failures and wf.error_strategy.kind != "continue":
                return

    def _iteration_done(self, index: int) -> bool:
        return all(
            (p := self.prior.get((step.name, index))) is not None and p.status == "completed"
            for step in self.definition.steps
        )

    def _fail_loop(self, index: int, limit: int) -> None:
        step = self.definition.steps[0]
        now = datetime.now(UTC)
        attempt = Attempt(step, index, 1, now, time.monotonic())
        attempt.error = f"the loop reached max_iterations ({limit}) with while_fn still true"
        attempt.ended = attempt.clock
        self._failures.append(attempt)

    # --- one step -----------------------------------------------------------------------------

    def _pooled(self, step: Step) -> bool:
        """Whether the step's work is Python-side (a built-in tool), so any thread may do it."""
        tools = self.services.tools
        return (
            step.type == "tool"
            and tools.exists(step.tool or "")
            and not tools.get(step.tool or "").script_side
        )

    def _start(
        self, step: Step, input_: Any, outputs: Mapping[str, Any], iteration: int, number: int
    ) -> Attempt:
        """Record the step as running, fill its input and run BeforeWorkflowStage (and for a
        tool, BeforeToolExecution); a failure here is the attempt's error."""
        attempt = Attempt(step, iteration, number, datetime.now(UTC), time.monotonic())
        self._running.append(attempt)
        self.services.progress(step.name, len(self.summaries))
        self._record(attempt, final=False)
        try:
            if step.input is not None:
                stage_input = substitute(step.input, input_, outputs)
            else:
                stage_input = {} if step.type == "tool" else input_
            staged = self.services.hooks.run(
                "BeforeWorkflowStage",
                self.definition.name,
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
        return attempt

    def _work(self, attempt: Attempt) -> None:
        """Do the step's work on this thread; a failure is the attempt's error."""
        step = attempt.step
        try:
            if step.type == "tool":
                assert attempt.call is not None
                attempt.call.run()
                self._collect_call(attempt)
            elif step.type == "lua":
                assert step.fn is not None
                attempt.output = {"success": True, "result": step.fn(attempt.input)}
            elif step.type == "workflow":
                self._child(attempt)
            else:
                self._agent(attempt)
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.error = str(exc) or type(exc).__name__
        attempt.ended = time.monotonic()

    # --- agent steps ----------------------------------------------------------------------------

    def _agent(self, attempt: Attempt) -> None:
        """Run an agent step on this thread, to its end."""
        from llmspell.runtime.agents import workflow_input

        agents = self.services.agents()
        agent = agents.require(attempt.step.agent or "")
        result = agents.execute(agent, workflow_input(attempt.input), self.services.stop_requested)
        attempt.output = agent_output(result)

    def _start_turn(self, attempt: Attempt) -> Future[Any] | None:
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

    def _advance_turn(self, attempt: Attempt) -> Future[Any] | None:
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

    def _collect_pooled(self, attempt: Attempt, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:  # ToolCall.run keeps tool failures; this is a bug or interrupt
            attempt.error = f"{type(error).__name__}: {error}"
        else:
            self._collect_call(attempt)
        attempt.ended = time.monotonic()
        call = attempt.call
        if call is not None and call.finished:
            # the pooled work's own times, so the timeline shows when it really ran
            attempt.clock, attempt.ended = call.started, call.finished

    def _collect_call(self, attempt: Attempt) -> None:
        assert attempt.call is not None
        result = self.services.tools.finish(attempt.call)
        attempt.output = result
        if not (isinstance(result, dict) and result.get("success")):
            error = result.get("error") if isinstance(result, dict) else None
            attempt.error = str(error or "the tool reported success = false")

    def _child(self, attempt: Attempt) -> None:
        step = attempt.step
        assert step.workflow is not None
        prior = self.prior.get((step.name, attempt.iteration))
        child_id = None
        if prior is not None and isinstance(prior.output, dict):
            child_id = prior.output.get("execution_id")
        previous = (
            self.services.store.get_execution(child_id) if isinstance(child_id, str) else None
        )
        if previous is not None and previous.status != "completed":
            child = WorkflowRun(
                self.services,
                step.workflow,
                previous.execution_id,
                previous.input,
                parent_id=self.execution_id,
                prior={(s.name, s.iteration): s for s in self.services.store.steps(child_id or "")},
                prior_context=previous.context,
            )
        else:
            child = WorkflowRun(
                self.services,
                step.workflow,
                str(uuid.uuid4()),
                attempt.input,
                parent_id=self.execution_id,
            )
        result = child.run()
        attempt.output = {**result, "result": result.get("outputs")}
        if not result.get("success"):
            attempt.error = str(result.get("error") or "the nested workflow failed")

    def _complete(self, attempt: Attempt) -> None:
        """AfterWorkflowStage (may replace the output), then record the attempt's end."""
        if not attempt.ended:
            attempt.ended = time.monotonic()
        if self.services.stop_requested():
            # The step failed because the run is stopping (a lua step stopped inside).
            attempt.error = "interrupted"
            self._record(attempt, final=True)
            raise WorkflowInterrupted("interrupted")
        try:
            staged = self.services.hooks.run(
                "AfterWorkflowStage",
                self.definition.name,
                {"step": attempt.step.name, "output": attempt.output, "success": attempt.ok},
                self.execution_id,
            )
            if isinstance(staged, dict) and "output" in staged:
                attempt.output = staged["output"]
        except Exception as exc:
            attempt.error = str(exc)
        self._record(attempt, final=True)

    def _settle(self, attempt: Attempt) -> None:
        """The attempt is the step's last: list it, and count it when it failed."""
        self.summaries.append(
            StepSummary(
                name=attempt.step.name,
                iteration=attempt.iteration,
                status="completed" if attempt.ok else "failed",
                attempts=attempt.number,
                duration_ms=attempt.duration_ms,
                offset_ms=(attempt.clock - self._clock) * 1000,
                error=attempt.error,
            )
        )
        if not attempt.ok:
            self._failures.append(attempt)
        self.services.progress(None, len(self.summaries))

    def _record(self, attempt: Attempt, final: bool) -> None:
        from llmspell.storage.components.workflow_state import WorkflowStep

        if final and attempt in self._running:
            self._running.remove(attempt)
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
            self.services.store.put_step(self.execution_id, step)
        except ValueError as exc:  # the output is not JSON-able or too large to keep
            attempt.error = f"the step's output cannot be stored: {exc}"
            attempt.output = None
            self.services.store.put_step(
                self.execution_id,
                replace(step, status="failed", output=None, error=attempt.error),
            )

    def _reuse(self, prior: WorkflowStep) -> None:
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

    # --- stopping -----------------------------------------------------------------------------

    def _check_stop(self) -> None:
        if self.services.stop_requested():
            raise WorkflowInterrupted("interrupted")

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self._check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))


def agent_output(result: dict[str, Any]) -> dict[str, Any]:
    """An agent step's output: the agent's result table, with `result` = its reply text (so
    `{{step.<name>.result}}` is the reply)."""
    return {**result, "result": result.get("text")}


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


def _future_of(pending: PendingCall) -> Future[Any]:
    assert pending.future is not None
    return pending.future


def truthy(value: Any) -> bool:
    """Lua's truth: only nil and false are false."""
    return value is not None and value is not False


def _field(value: Any, dotted: str) -> tuple[bool, Any]:
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return False, None
    return True, value
