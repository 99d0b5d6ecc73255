"""The script-facing workflow objects: a workflow (`execute`, `resume`, `get_status`, ...)
and the builder the reference system's scripts use (`Workflow.builder()`, `:step`, `:branch`,
...), with the step forms both accept."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import ensure_data, require_int, require_str, type_name
from llmspell.runtime.api.base import ApiContext, ApiObject, ValidationError
from llmspell.runtime.workflows import rendering  # registers the notebook view, too

if TYPE_CHECKING:
    from llmspell.runtime.workflows.definition import WorkflowDefinition
    from llmspell.runtime.workflows.manager import WorkflowManager


# a run shows its progress once it has taken this long (seconds)
PROGRESS_AFTER_S = 1.0


def workflow_manager(ctx: ApiContext) -> WorkflowManager:
    from llmspell.runtime.workflows.manager import WorkflowManager

    return ctx.infrastructure.get(WorkflowManager)


def definition_of(value: Any) -> WorkflowDefinition | None:
    return value.definition if isinstance(value, WorkflowObject) else None


class WorkflowObject(ApiObject):
    """A workflow made by `Workflow.sequential/parallel/conditional/loop` or a builder."""

    api_name = "Workflow"

    def __init__(self, ctx: ApiContext, definition: WorkflowDefinition) -> None:
        self._ctx = ctx
        self.definition = definition
        self._state = "created"
        self._last_execution: str | None = None

    def __repr__(self) -> str:
        return f"<Workflow {self.definition.name} ({self.definition.kind})>"

    def execute(self, input: Any = None) -> dict[str, Any]:
        """Run the workflow on `input` (a table; placeholders read it as `{{input.x}}`).
        Returns `{success, outputs={[step]=result}, execution_id, duration_ms, error?,
        workflow, type, steps}` plus the reference's `{status="completed"|"failed",
        workflow_type, text, metadata={extra={execution_id, agent_outputs={[step]=output}}}}`
        (`text`: the last step's text, an agent's reply or a string result; "" if none): a
        tool step's result is its result table, a lua step's is
        `{success=true, result=<fn(input) return>}`, a workflow step's is the nested result
        (with `result` = its outputs), a loop body step's is a list with one result per
        iteration. Every step is persisted as it runs (`State.workflow_get`). A failed step
        fails the run per the error strategy (`success=false`, `error`), it does not raise;
        an interrupt stops the run (recorded as failed) and raises."""
        data = _input("Workflow.execute", input)
        self._state = "running"
        try:
            result = workflow_manager(self._ctx).execute(
                self.definition, data, self._ctx.stop_requested, self._progress()
            )
        except BaseException:
            self._state = "failed"
            raise
        self._state = "completed" if result.get("success") else "failed"
        self._last_execution = result.get("execution_id")
        return result

    def execute_async(self, input: Any = None, callback: Any = None) -> dict[str, Any]:
        """The reference's asynchronous run: llmspell runs it now, on the script's thread (Lua
        is single-threaded), then calls `callback(result, nil)`, or `callback(nil, error)`
        when the run failed; returns the result."""
        if callback is not None and not callable(callback):
            raise ValidationError(
                f"Workflow.execute_async: callback must be a function, got {type_name(callback)}"
            )
        result = self.execute(input)
        if callback is not None:
            if result.get("success"):
                callback(result, None)
            else:
                callback(None, result.get("error"))
        return result

    def validate(self) -> bool:
        """True: a workflow is checked when it is built (an invalid definition raises there,
        saying what is wrong), so one that exists is valid. (`local ok, errors =
        wf:validate()` gives errors = nil.)"""
        return True

    def get_status(self) -> dict[str, Any]:
        """`{state, execution_id}`: state is "created" (never run), "running", "completed"
        or "failed" (the last run's); execution_id is the last run's."""
        return {"state": self._state, "execution_id": self._last_execution}

    def resume(self, execution_id: str) -> dict[str, Any]:
        """Run a failed or unfinished execution of this workflow again from its first failed
        or unfinished step, using the stored outputs of the steps before it (a parallel run
        re-runs only its failed steps, a loop continues from the failed iteration). Resuming
        a run that completed raises."""
        execution_id = require_str("Workflow.resume", "execution_id", execution_id)
        return workflow_manager(self._ctx).resume(
            self.definition, execution_id, self._ctx.stop_requested, self._progress()
        )

    def _progress(self) -> Callable[[str | None, int], None]:
        """The run's progress as one display that updates in place (a notebook's; the CLI
        shows none), from the first step boundary after PROGRESS_AFTER_S on: a quick run
        adds nothing to the cell's output."""
        definition = self.definition
        total = len(definition.steps) if definition.kind in ("sequential", "parallel") else None
        display_id = f"workflow-{uuid.uuid4().hex}"
        started = time.monotonic()
        shown = False

        def report(running: str | None, finished: int) -> None:
            nonlocal shown
            if not shown and time.monotonic() - started < PROGRESS_AFTER_S:
                return
            bundle = rendering.progress_bundle(definition.name, finished, total, running)
            self._ctx.sink.display(bundle, {}, display_id=display_id, update=shown)
            shown = True

        return report


class WorkflowBuilder(ApiObject):
    """`Workflow.builder():name(s):sequential():add_step(s):build()` and the like."""

    api_name = "WorkflowBuilder"

    def __init__(
        self, ctx: ApiContext, register: Callable[[WorkflowObject], WorkflowObject]
    ) -> None:
        self._ctx = ctx
        self._register = register
        self._kind = "sequential"
        self._spec: dict[str, Any] = {}

    def name(self, name: str) -> WorkflowBuilder:
        """The workflow's name."""
        self._spec["name"] = require_str("WorkflowBuilder.name", "name", name)
        return self

    def description(self, text: str) -> WorkflowBuilder:
        """A description of the workflow."""
        self._spec["description"] = require_str(
            "WorkflowBuilder.description", "text", text, allow_empty=True
        )
        return self

    def sequential(self) -> WorkflowBuilder:
        """Steps run one after another (the default)."""
        self._kind = "sequential"
        return self

    def parallel(self) -> WorkflowBuilder:
        """Steps run concurrently (Python-side work in a thread pool)."""
        self._kind = "parallel"
        return self

    def conditional(self) -> WorkflowBuilder:
        """Then-steps or else-steps run, by `condition`."""
        self._kind = "conditional"
        return self

    def loop(self) -> WorkflowBuilder:
        """The steps (the body) run once per iteration of `range`, `collection` or
        `while_fn`."""
        self._kind = "loop"
        return self

    def add_step(self, step: Any) -> WorkflowBuilder:
        """Add a step (for a loop: a body step; for a conditional: a then-step)."""
        key = {"loop": "body", "conditional": "then_steps"}.get(self._kind, "steps")
        return self._append(key, step)

    def add_then_step(self, step: Any) -> WorkflowBuilder:
        """Add a step of a conditional's then-branch."""
        return self._append("then_steps", step)

    def add_else_step(self, step: Any) -> WorkflowBuilder:
        """Add a step of a conditional's else-branch."""
        return self._append("else_steps", step)

    def condition(self, condition: Any, value: Any = None) -> WorkflowBuilder:
        """A conditional's condition: a function of the input, a condition table, or the
        reference's `(key, value)` — true when the input's `key` (dotted for nested fields)
        equals `value`; for a loop, its `while_fn` (a function)."""
        if isinstance(condition, str):
            if self._kind == "loop":
                raise ValidationError(
                    "WorkflowBuilder.condition: a loop's condition is a function "
                    "fn(input, index, previous); (key, value) is a conditional's"
                )
            condition = {"type": "input_equals", "key": condition, "value": value}
        elif value is not None:
            raise ValidationError(
                "WorkflowBuilder.condition: a value goes with a key: condition(key, value); "
                f"got a {type_name(condition)} and a value"
            )
        self._spec["while_fn" if self._kind == "loop" else "condition"] = condition
        return self

    def step(self, name: Any, action: Any = None) -> WorkflowBuilder:
        """The reference's `:step(name, {tool=name, params?}|{agent=name, prompt?})`; with one
        table, `add_step`."""
        if action is None:
            return self.add_step(name)
        return self.add_step(_action_step("WorkflowBuilder.step", name, action))

    def branch(self, name: Any, action: Any) -> WorkflowBuilder:
        """A parallel branch, as `:step(name, action)`."""
        return self.add_step(_action_step("WorkflowBuilder.branch", name, action))

    def when_true(self, action: Any) -> WorkflowBuilder:
        """A conditional's then-step, `{tool=name, params?}|{agent=name, prompt?}`."""
        return self.add_then_step(_action_step("WorkflowBuilder.when_true", "when_true", action))

    def when_false(self, action: Any) -> WorkflowBuilder:
        """A conditional's else-step, as `when_true`."""
        return self.add_else_step(_action_step("WorkflowBuilder.when_false", "when_false", action))

    def body(self, action: Any) -> WorkflowBuilder:
        """A loop's body step, `{tool=name, params?, update?}|{agent=name, prompt?, update?}`.
        `update(context, result)` runs after each iteration and changes the loop's context
        (a copy of the input) in place; `:condition(fn(context))` and the body's input then
        see the changed context."""
        if isinstance(action, dict) and "update" in action:
            action = dict(action)
            self._spec["update"] = action.pop("update")
        return self._append("body", _action_step("WorkflowBuilder.body", "body", action))

    def body_step(self, step: Any) -> WorkflowBuilder:
        """A loop's body step in llmspell's form (`{type = "tool", tool = name, input?}`),
        as the reference's loop pattern writes it."""
        return self._append("body", step)

    def on_error(self, strategy: Any) -> WorkflowBuilder:
        """The reference's `"retry"`, `"skip"` (llmspell's "continue") or `"fail"`
        ("fail_fast")."""
        mapped = {"retry": "retry", "skip": "continue", "fail": "fail_fast"}.get(strategy)
        if mapped is None:
            raise ValidationError(
                f'WorkflowBuilder.on_error: strategy must be "retry", "skip" or "fail", '
                f"got {strategy!r}"
            )
        retries = self._spec.get("error_strategy")
        attempts = retries.get("max_attempts") if isinstance(retries, dict) else None
        self._spec["error_strategy"] = (
            {"type": "retry", "max_attempts": attempts or 3} if mapped == "retry" else mapped
        )
        return self

    def max_retries(self, n: int) -> WorkflowBuilder:
        """Retry a failed step up to `n` times (so `n + 1` attempts)."""
        n = require_int("WorkflowBuilder.max_retries", "n", n, minimum=0)
        self._spec["error_strategy"] = {"type": "retry", "max_attempts": n + 1}
        return self

    def timeout(self, ms: Any) -> WorkflowBuilder:
        """The run's own time limit in milliseconds (`timeout_ms`): checked between steps and
        while parallel steps run; a run past it ends failed, its running steps failed with
        the reason. A single lua step runs to its end (the cell's limits bound it)."""
        self._spec["timeout_ms"] = require_int("WorkflowBuilder.timeout", "ms", ms, minimum=1)
        return self

    def merge_strategy(self, strategy: Any) -> WorkflowBuilder:
        """A parallel run's `merged` result: `"combine"` (every branch's output by name, the
        default), `"first"` (the branch that succeeded first) or `"vote"` (the output most
        branches agree on)."""
        from llmspell.runtime.workflows.definition import MERGE_STRATEGIES

        if strategy not in MERGE_STRATEGIES:
            raise ValidationError(
                "WorkflowBuilder.merge_strategy: strategy must be one of "
                f"{', '.join(MERGE_STRATEGIES)}, got {strategy!r}"
            )
        self._spec["merge_strategy"] = strategy
        return self

    def max_concurrency(self, n: int) -> WorkflowBuilder:
        """At most `n` parallel steps at a time."""
        self._spec["max_concurrency"] = require_int(
            "WorkflowBuilder.max_concurrency", "n", n, minimum=1
        )
        return self

    def error_strategy(self, strategy: Any) -> WorkflowBuilder:
        """`"fail_fast"`, `"continue"`, `"retry"` or `{type="retry", max_attempts, backoff_ms}`."""
        self._spec["error_strategy"] = strategy
        return self

    def range(self, start: int, stop: int, step: int = 1) -> WorkflowBuilder:
        """A loop over `start..stop` (inclusive) by `step`."""
        self._spec["range"] = [start, stop, step]
        return self

    def collection(self, items: Any) -> WorkflowBuilder:
        """A loop over the items of a list."""
        self._spec["collection"] = items
        return self

    def while_fn(self, fn: Any) -> WorkflowBuilder:
        """A loop that runs while `fn(input, index, previous_outputs)` is true."""
        self._spec["while_fn"] = fn
        return self

    def max_iterations(self, n: int) -> WorkflowBuilder:
        """The most iterations a loop may run (default 1000)."""
        self._spec["max_iterations"] = require_int(
            "WorkflowBuilder.max_iterations", "n", n, minimum=1
        )
        return self

    def build(self) -> WorkflowObject:
        """The workflow; raises if the definition is incomplete or invalid."""
        from llmspell.runtime.workflows.definition import parse_workflow

        return self._register(
            WorkflowObject(self._ctx, parse_workflow(self._kind, self._spec, definition_of))
        )

    def _append(self, key: str, step: Any) -> WorkflowBuilder:
        if not isinstance(step, dict):
            raise ValidationError(
                f"WorkflowBuilder.add_step: step must be a table, got {type_name(step)}"
            )
        self._spec.setdefault(key, []).append(step)
        return self


def _action_step(fn: str, name: Any, action: Any) -> dict[str, Any]:
    """A builder's `(name, {tool=name, params?}|{agent=name, prompt?})` as an llmspell step."""
    if not isinstance(action, dict):
        raise ValidationError(f"{fn}: action must be a table, got {type_name(action)}")
    step: dict[str, Any] = reference_step({"id": name, "action": action})
    return step


def reference_step(step: Any) -> Any:
    """A step as `{id, action={tool=name, params?}|{agent=name, prompt?}}` (the reference's
    form) as llmspell's `{name, tool, input}` / `{name, agent, prompt}`; others unchanged."""
    if not isinstance(step, dict):
        return step
    if "action" not in step:
        if "id" not in step or "name" in step or not ({"tool", "agent"} & set(step)):
            return step
        # the YAML form: {id, tool|agent, params?, prompt?}
        step = {
            "id": step["id"],
            "action": {k: v for k, v in step.items() if k != "id"},
        }
    out = {k: v for k, v in step.items() if k not in ("id", "action")}
    if "id" in step:
        out["name"] = step["id"]
    action = step["action"]
    if not isinstance(action, dict):
        raise ValidationError(
            f"Workflow.create: a step's action must be a table, got {type_name(action)}"
        )
    action = dict(action)
    if "params" in action:
        action["input"] = action.pop("params")
    return {**out, **action}


def _input(fn: str, value: Any) -> dict[str, Any]:
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(
            f"{fn}: input must be a table of named fields, got {type_name(value)}"
        )
    data: dict[str, Any] = ensure_data(fn, "input", value)
    return data
