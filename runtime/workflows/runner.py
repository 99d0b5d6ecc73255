"""One run of a workflow: steps in order, in parallel, by branch or by iteration, each recorded
in workflow state as it starts and as it ends. (Over ~450 lines: the four kinds share one
run's retry, stop, timeout and default-error-handler rules, which a split would scatter.)

Threads: the run belongs to the script's thread. Steps whose work is Python-side (built-in
tools) may run in a bounded thread pool; everything that may call a script function — lua
steps, user tools, nested workflows, hooks — runs on the script's thread, because a script
engine is single-threaded. A stop request (interrupt, timeout) is checked between steps and
while pooled steps run; a lua step is stopped inside by the engine itself. A stopped run is
recorded as failed ("interrupted"), never lost. What a run leaves behind (the execution, each
attempt, the result table) goes through its RunRecord (runtime/workflows/record.py).
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import DomainError, ScriptStopping
from llmspell.runtime.workflows.record import Attempt, RunRecord
from llmspell.runtime.workflows.steps import RunServices, StepWork

if TYPE_CHECKING:
    from llmspell.runtime.workflows.definition import Step, WorkflowDefinition
    from llmspell.storage.components.workflow_state import WorkflowStep

POLL_S = 0.05  # how often a waiting run looks for a stop request
HANDLER_ATTEMPTS = 3  # attempts at a step while the default error handler says "retry"
HANDLER_DECISIONS = ("retry", "skip", "fail")


class WorkflowInterrupted(DomainError):
    """The run was stopped (interrupt or timeout); it is recorded as failed."""

    ename = "KeyboardInterrupt"


class WorkflowTimedOut(Exception):
    """The run took longer than its own `timeout_ms`: it ends as a failed run (a result, not
    an error), its running steps failed with this message."""


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
    record: RunRecord = field(init=False)
    steps: StepWork = field(init=False)

    def __post_init__(self) -> None:
        self.record = RunRecord(
            self.services.store, self.definition, self.execution_id, self.parent_id
        )
        self.steps = StepWork(self.services, self.definition.name, self.execution_id, self._child)

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """The run's result `{success, outputs, execution_id, duration_ms, error?, workflow,
        type, steps}` plus the reference's `status, workflow_type, text, metadata`; raises
        WorkflowInterrupted when stopped, HookCancelled when a BeforeWorkflowStart hook
        cancels."""
        wf, record, hooks = self.definition, self.record, self.services.hooks
        record.clock = time.monotonic()
        started_at = datetime.now(UTC)
        resuming = self.prior_context is not None
        try:
            self.input = hooks.run("BeforeWorkflowStart", wf.name, self.input, self.execution_id)
        except DomainError as exc:
            if not resuming:
                record.create(self.input, started_at, "cancelled", error=str(exc), finished=True)
            raise
        if resuming:
            record.resumed(started_at)
        else:
            record.create(self.input, started_at, "running")
        outputs: dict[str, Any] = {}
        try:
            self._body(outputs)
        except WorkflowTimedOut as exc:
            record.timed_out(str(exc))
            return self._finish(outputs, str(exc))
        except BaseException as exc:  # interrupt, timeout, a bug: the run is recorded, not lost
            reason = "interrupted" if self._stopping(exc) else f"{type(exc).__name__}: {exc}"
            record.aborted(reason)
            raise
        return self._finish(outputs)

    def _stopping(self, exc: BaseException) -> bool:
        return isinstance(exc, (WorkflowInterrupted, ScriptStopping)) or not isinstance(
            exc, Exception
        )

    def _finish(self, outputs: dict[str, Any], run_error: str | None = None) -> dict[str, Any]:
        wf, hooks = self.definition, self.services.hooks
        result = self.record.finish(outputs, run_error)
        if "error" in result:
            failures = self.record.failures
            hooks.run(
                "WorkflowError",
                wf.name,
                {"step": failures[0].step.name if failures else None, "error": result["error"]},
                self.execution_id,
            )
        completed: dict[str, Any] = hooks.run(
            "AfterWorkflowComplete", wf.name, result, self.execution_id
        )
        return completed

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
                self.record.reuse(prior)
                continue
            rerunning = True
            attempt = self._with_retries(step, input_, outputs, iteration)
            if attempt.output is not None or attempt.ok:
                outputs[step.name] = attempt.output
            if (
                not attempt.ok
                and not attempt.skipped
                and self.definition.error_strategy.kind != "continue"
            ):
                return

    def _with_retries(
        self, step: Step, input_: Any, outputs: Mapping[str, Any], iteration: int
    ) -> Attempt:
        strategy = self.definition.error_strategy
        number = 1
        while True:
            attempt = self._start(step, input_, outputs, iteration, number)
            if attempt.ok:
                self.steps.work(attempt)
            self._complete(attempt)
            if not attempt.ok and strategy.kind == "retry" and number < strategy.max_attempts:
                number += 1
                self._sleep(strategy.delay_s(number))
                continue
            if not attempt.ok:
                decision = self._handler_decision(attempt)
                if decision == "retry" and number < HANDLER_ATTEMPTS:
                    number += 1
                    continue
                attempt.skipped = decision == "skip"
            self._settle(attempt)
            return attempt

    def _parallel(self, steps: tuple[Step, ...], input_: Any, outputs: dict[str, Any]) -> None:
        strategy = self.definition.error_strategy
        pending: deque[tuple[Step, int]] = deque()
        for step in steps:
            prior = self.prior.get((step.name, 0))
            if prior is not None and prior.status == "completed":
                outputs[step.name] = prior.output
                self.record.reuse(prior)
            else:
                pending.append((step, 1))
        limit = self.definition.max_concurrency or max(len(pending), 1)
        pooled = sum(1 for step, _ in pending if self.steps.pooled(step))
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
            if not attempt.ok:
                decision = self._handler_decision(attempt)
                if decision == "retry" and attempt.number < HANDLER_ATTEMPTS:
                    pending.appendleft((attempt.step, attempt.number + 1))
                    return
                attempt.skipped = decision == "skip"
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
                stop_starting = self._failed_hard(0)
                while pending and len(in_flight) < limit and not stop_starting:
                    step, number = pending.popleft()
                    attempt = self._start(step, input_, outputs, 0, number)
                    if (
                        attempt.ok
                        and pool is not None
                        and attempt.call is not None
                        and self.steps.pooled(step)
                    ):
                        in_flight[pool.submit(attempt.call.run)] = attempt
                        continue
                    if attempt.ok and step.type == "agent":
                        started = self.steps.start_turn(attempt)
                        if started is not None:
                            in_flight[started] = attempt
                            continue
                    if attempt.ok:
                        self.steps.work(attempt)
                    self._complete(attempt)
                    settle(attempt)
                    stop_starting = self._failed_hard(0)
                if stop_starting and not in_flight:
                    pending.clear()
                    delayed.clear()
                if in_flight:
                    done, _ = wait(list(in_flight), timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in done:
                        attempt = in_flight.pop(future)
                        if attempt.turn is not None:
                            following = self.steps.advance_turn(attempt)
                            if following is not None:
                                in_flight[following] = attempt
                                continue
                        else:
                            self.steps.collect_pooled(attempt, future)
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
            self.record.branch_chosen(branch)
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
        context = dict(base)  # what the loop's update changes (a copy of the input)
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
                    seen = context if loop.update is not None else self.input
                    if not truthy(loop.while_fn(seen, index, previous)):
                        return
                    if index > loop.max_iterations:
                        self._fail_loop(index, loop.max_iterations)
                        return
            iteration_outputs: dict[str, Any] = {}
            failures = len(self.record.failures)
            given = context if loop.update is not None else base
            self._sequence(
                wf.steps, {**given, "item": item, "index": index}, iteration_outputs, index
            )
            for step in wf.steps:
                outputs[step.name].append(iteration_outputs.get(step.name))
            previous = iteration_outputs
            if loop.update is not None and len(self.record.failures) == failures:
                context = self._updated(loop.update, context, iteration_outputs, index)
            if self._failed_hard(failures):
                return

    def _updated(
        self,
        update: Callable[..., Any],
        context: dict[str, Any],
        outputs: dict[str, Any],
        index: int,
    ) -> dict[str, Any]:
        """`update(context, result)` with the iteration's last output; the context as it left
        it (a failure of the update fails the loop at that iteration)."""
        last = self.definition.steps[-1]
        try:
            call_updating = getattr(update, "call_updating", None)  # a script's function
            if call_updating is not None:
                _, (changed, _) = call_updating(context, outputs.get(last.name))
            else:  # a Python function changes the shared dict itself
                update(context, outputs.get(last.name))
                changed = context
        except ScriptStopping:
            raise
        except Exception as exc:
            self.record.failed_without_a_step(last, index, f"the loop's update failed: {exc}")
            return context
        if not isinstance(changed, dict):
            changed = {}  # an update that emptied the table
        return changed

    def _failed_hard(self, since: int) -> bool:
        """Whether a step failed (of the failures after the first `since`) in a way that stops
        the run: its strategy is not `continue`, and the default error handler did not skip it."""
        if self.definition.error_strategy.kind == "continue":
            return False
        return any(not a.skipped for a in self.record.failures[since:])

    def _handler_decision(self, attempt: Attempt) -> str | None:
        """What Workflow.setDefaultErrorHandler's function says of a failed attempt ("retry",
        "skip" or "fail"), for a workflow without an error_strategy of its own; None when
        there is no such function or the workflow has its own strategy."""
        handler = self.services.error_handler
        if handler is None or self.definition.error_strategy.given:
            return None
        error = {
            "message": attempt.error,
            "step": attempt.step.name,
            "attempt": attempt.number,
            "iteration": attempt.iteration,
        }
        context = {
            "workflow": self.definition.name,
            "execution_id": self.execution_id,
            "input": self.input,
        }
        try:
            decision = handler(error, context)
        except ScriptStopping:
            raise
        except Exception as exc:
            attempt.error = f"{attempt.error} (and the default error handler failed: {exc})"
            return "fail"
        if decision not in HANDLER_DECISIONS:
            attempt.error = (
                f"{attempt.error} (the default error handler returned {decision!r}; "
                f"allowed: {', '.join(HANDLER_DECISIONS)})"
            )
            return "fail"
        return str(decision)

    def _iteration_done(self, index: int) -> bool:
        return all(
            (p := self.prior.get((step.name, index))) is not None and p.status == "completed"
            for step in self.definition.steps
        )

    def _fail_loop(self, index: int, limit: int) -> None:
        self.record.failed_without_a_step(
            self.definition.steps[0],
            index,
            f"the loop reached max_iterations ({limit}) with while_fn still true",
        )

    # --- one step -----------------------------------------------------------------------------

    def _start(
        self, step: Step, input_: Any, outputs: Mapping[str, Any], iteration: int, number: int
    ) -> Attempt:
        """Record the step as running, fill its input and run BeforeWorkflowStage (and for a
        tool, BeforeToolExecution); a failure here is the attempt's error."""
        attempt = Attempt(step, iteration, number, datetime.now(UTC), time.monotonic())
        self.services.progress(step.name, len(self.record.summaries))
        self.record.started(attempt)
        self.steps.stage(attempt, input_, outputs)
        return attempt

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
            self.record.record(attempt, final=True)
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
        self.record.record(attempt, final=True)

    def _settle(self, attempt: Attempt) -> None:
        """The attempt is the step's last."""
        self.record.settle(attempt)
        self.services.progress(None, len(self.record.summaries))

    # --- stopping -----------------------------------------------------------------------------

    def _check_stop(self) -> None:
        if self.services.stop_requested():
            raise WorkflowInterrupted("interrupted")
        limit = self.definition.timeout_s
        if limit is not None and time.monotonic() - self.record.clock > limit:
            raise WorkflowTimedOut(f"the workflow ran past its timeout of {round(limit * 1000)} ms")

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            self._check_stop()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))


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
