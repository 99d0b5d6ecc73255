"""`Workflow`: compose tool, lua, workflow and agent steps into sequential, parallel,
conditional and loop workflows whose runs are persisted in workflow state and can resume."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    optional_str,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiContext, ApiNamespace, ValidationError
from llmspell.runtime.api.workflow_objects import (
    WorkflowBuilder,
    WorkflowObject,
    definition_of,
    reference_step,
    workflow_manager,
)
from llmspell.runtime.times import format_optional_time, format_time

# runtime.workflows.definition is imported where a workflow is made (its dataclasses cost
# every `llmspell exec` that builds this global and makes none)
if TYPE_CHECKING:
    from llmspell.storage.components.workflow_state import WorkflowExecution


class WorkflowApi(ApiNamespace):
    """Compose steps — `{name, type="tool"|"lua"|"workflow"|"agent", tool?, fn?, workflow?,
    agent?, input?}` — into workflows. `{{input.x}}`, `{{step.<name>.result}}` and
    `{{step.<name>.result.<field>}}` in any string of a step's input are filled in. Runs are
    persisted step by step in workflow state and can resume after a failure.

    Threads: Lua is single-threaded, so lua steps, user tools (Tool.register), nested
    workflows and hooks run on the script's thread; in a parallel workflow only steps whose
    work is Python-side (built-in tools) run concurrently, in a thread pool bounded by
    `max_concurrency`."""

    api_name = "Workflow"

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        # every workflow made in this runtime, by name (the last one made under a name wins)
        self._workflows: dict[str, WorkflowObject] = {}
        self._debug = False

    def sequential(self, spec: Any = None) -> WorkflowObject | WorkflowBuilder:
        """`Workflow.sequential{name, steps, error_strategy?="fail_fast"|"continue"|"retry"|
        {type="retry", max_attempts?=3, backoff_ms?=100}, description?}`: steps run in order;
        each may use the results of the steps before it. `Workflow.sequential()` (and
        `parallel()`, `conditional()`, `loop()`) without a spec is a builder, the reference's
        form: `:name(s):step(name, {tool=t, params?}|{agent=a, prompt?}):on_error("retry"|
        "skip"|"fail"):max_retries(n):build()`; `:branch` and `:merge_strategy("combine")`
        for parallel, `:condition(fn):when_true(action):when_false(action)` for conditional,
        `:condition(fn(input, index, previous)):body(action):max_iterations(n)` for loop."""
        return self._make_or_build("sequential", spec)

    def parallel(self, spec: Any = None) -> WorkflowObject | WorkflowBuilder:
        """`Workflow.parallel{name, steps, max_concurrency?, error_strategy?, description?}`:
        steps run concurrently, at most `max_concurrency` at a time (default: all). With
        fail_fast no new step starts after one fails."""
        return self._make_or_build("parallel", spec)

    def conditional(self, spec: Any = None) -> WorkflowObject | WorkflowBuilder:
        """`Workflow.conditional{name, condition, then_steps, else_steps?, error_strategy?}`:
        `condition` is a function of the input (Lua truth) or a table
        `{type="always"|"never"}`, `{type="input_equals", key="a.b", value=v}`,
        `{type="input_exists", key="a.b"}`. Only the chosen branch runs (and a resume keeps
        the branch)."""
        return self._make_or_build("conditional", spec)

    def loop(self, spec: Any = None) -> WorkflowObject | WorkflowBuilder:
        """`Workflow.loop{name, body, range?={start, stop, step?}|collection?={...}|
        while_fn?=fn(input, index, previous), max_iterations?=1000, error_strategy?}`: the
        body's steps run once per iteration with the input plus `item` and `index` (from 1);
        ranges include `stop`, as in Lua's numeric for. Outputs are lists, one entry per
        iteration. A range or collection longer than max_iterations is refused; a while loop
        still going after max_iterations fails."""
        return self._make_or_build("loop", spec)

    def builder(self) -> WorkflowBuilder:
        """A builder: `Workflow.builder():name("x"):parallel():add_step{...}:build()`."""
        return WorkflowBuilder(self._ctx, self._register)

    def executions(self, filter: Any = None) -> builtins.list[dict[str, Any]]:
        """Past runs, newest first: `Workflow.executions{name?, status?, limit?}` with status
        one of pending, running, completed, failed, cancelled. Records:
        `{execution_id, workflow, type, status, current_step, error, started_at,
        finished_at, duration_ms, parent_id}`."""
        options = require_table("Workflow.executions", "filter", filter)
        check_options("Workflow.executions", options, {"name", "status", "limit"})
        name = optional_str("Workflow.executions", "name", options.get("name"))
        status = optional_str("Workflow.executions", "status", options.get("status"))
        limit = options.get("limit")
        if limit is not None:
            limit = require_int("Workflow.executions", "limit", limit, minimum=0)
        return [_record(e) for e in workflow_manager(self._ctx).executions(name, status, limit)]

    def create(self, config: Any) -> WorkflowObject:
        """`Workflow.create{name, type?="sequential", steps, ...}`: a workflow of any kind from
        one table (the other fields as for that kind). A step may be written as the reference
        writes it, `{id, action={tool=name, params?}|{agent=name, prompt?}}`, or as llmspell's
        steps."""
        from llmspell.runtime.workflows.definition import KINDS

        options = dict(require_table("Workflow.create", "config", config))
        kind = options.pop("type", "sequential")
        if kind not in KINDS:
            raise ValidationError(
                f"Workflow.create: type must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        for key in ("steps", "then_steps", "else_steps", "body"):
            if isinstance(options.get(key), list):
                options[key] = [reference_step(step) for step in options[key]]
        return self._make(kind, options)

    def from_yaml(self, yaml_string: Any) -> WorkflowObject:
        """A workflow from YAML text holding what `Workflow.create` takes: `name`, `type`,
        `steps` (each `{id, tool|agent, params?, prompt?}`, `{id, action}` or llmspell's form)
        and the kind's options. Lua steps and conditions are functions, which YAML cannot
        hold: write those workflows as tables. YAML aliases are refused (they can expand
        without bound)."""
        text = require_str("Workflow.from_yaml", "yaml_string", yaml_string)
        self._ctx.infrastructure.limits.check_size("the YAML text", len(text.encode()))
        return self.create(_yaml_workflow("Workflow.from_yaml", text))

    def from_file(self, filepath: Any) -> WorkflowObject:
        """`Workflow.from_yaml` of a YAML file, which must lie under `tools.allowed_paths`
        (symbolic links and `..` resolved)."""
        from llmspell.runtime.tools.paths import resolve_allowed_path

        path = resolve_allowed_path(
            require_str("Workflow.from_file", "filepath", filepath),
            self._ctx.config.tools.allowed_paths,
        )
        try:
            size = path.stat().st_size
            self._ctx.infrastructure.limits.check_size(f"the file {str(path)!r}", size)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError(f"Workflow.from_file: cannot read {str(path)!r}: {exc}") from None
        return self.create(_yaml_workflow("Workflow.from_file", text))

    def list(self) -> list[dict[str, Any]]:
        """The workflows made or saved in this runtime, by name: `{name, type, description,
        steps}` (step names)."""
        return [
            {
                "name": name,
                "type": wf.definition.kind,
                "description": wf.definition.description,
                "steps": wf.definition.step_names(),
            }
            for name, wf in sorted(self._workflows.items())
        ]

    def get(self, name: str) -> WorkflowObject | None:
        """The workflow made or saved under `name`, or nil."""
        return self._workflows.get(require_str("Workflow.get", "name", name))

    def save(self, name: str, workflow: Any) -> bool:
        """Keep `workflow` under `name` for `Workflow.get` (for this runtime's life)."""
        name = require_str("Workflow.save", "name", name)
        if not isinstance(workflow, WorkflowObject):
            raise ValidationError(
                f"Workflow.save: workflow must be a workflow, got {type_name(workflow)}"
            )
        self._workflows[name] = workflow
        return True

    def delete(self, name: str) -> bool:
        """Forget the workflow under `name`; true if there was one. Its past runs stay
        (`Workflow.executions`)."""
        return self._workflows.pop(require_str("Workflow.delete", "name", name), None) is not None

    def remove(self, name: str) -> bool:
        """`Workflow.delete`, under the name some reference scripts use."""
        return self._workflows.pop(require_str("Workflow.remove", "name", name), None) is not None

    def clear(self) -> int:
        """Forget every workflow; returns how many there were."""
        count = len(self._workflows)
        self._workflows.clear()
        return count

    def types(self) -> builtins.list[str]:
        """The workflow kinds: sequential, parallel, conditional, loop."""
        from llmspell.runtime.workflows.definition import KINDS

        return list(KINDS)

    def setDefaultErrorHandler(self, handler: Any) -> None:
        """`fn(error, context)` decides about a failed step of every workflow of this runtime
        that has no `error_strategy` of its own: it returns `"retry"` (the step runs again,
        up to 3 attempts), `"skip"` (the run goes on; the step stays failed) or `"fail"` (the
        run stops, as by default). `error` is `{message, step, attempt, iteration}`,
        `context` `{workflow, execution_id, input}`. Another return value, or an error in
        `fn`, counts as "fail" and is added to the step's error. nil removes it."""
        if handler is not None and not callable(handler):
            raise ValidationError(
                "Workflow.setDefaultErrorHandler: handler must be a function or nil, "
                f"got {type_name(handler)}"
            )
        workflow_manager(self._ctx).default_error_handler = handler

    def enableDebug(self) -> None:
        """Turn on the debug flag `Workflow.isDebugEnabled` reports. Runs are recorded step by
        step whether or not it is on (`Workflow.executions`, `State.workflow_get`)."""
        self._debug = True

    def isDebugEnabled(self) -> bool:
        """Whether `Workflow.enableDebug` was called in this runtime."""
        return self._debug

    def _make(self, kind: str, spec: Any) -> WorkflowObject:
        from llmspell.runtime.workflows.definition import KINDS, parse_workflow

        assert kind in KINDS
        options = require_table(f"Workflow.{kind}", "spec", spec)
        return self._register(
            WorkflowObject(self._ctx, parse_workflow(kind, options, definition_of))
        )

    def _make_or_build(self, kind: str, spec: Any) -> WorkflowObject | WorkflowBuilder:
        # without a spec: the reference's builder, `Workflow.sequential():name(..):step(..)`
        if spec is None:
            builder = WorkflowBuilder(self._ctx, self._register)
            builder._kind = kind
            return builder
        return self._make(kind, spec)

    def _register(self, workflow: WorkflowObject) -> WorkflowObject:
        self._workflows[workflow.definition.name] = workflow
        return workflow


def _yaml_workflow(fn: str, text: str) -> dict[str, Any]:
    """The table a workflow's YAML text describes; ValidationError naming `fn` when it is not
    YAML, holds an alias, or is not a mapping."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise yaml.YAMLError("aliases (*name) are not accepted")
            return super().compose_node(parent, index)

    try:
        data = yaml.load(text, Loader=NoAliases)  # a SafeLoader: plain data only
    except yaml.YAMLError as exc:
        raise ValidationError(f"{fn}: not a workflow's YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(
            f"{fn}: the YAML must be a mapping with name, type and steps, got {type_name(data)}"
        )
    return data


def _record(execution: WorkflowExecution) -> dict[str, Any]:
    finished = execution.finished_at
    duration = (finished - execution.started_at).total_seconds() * 1000 if finished else None
    return {
        "execution_id": execution.execution_id,
        "workflow": execution.workflow_name,
        "type": execution.workflow_type,
        "status": execution.status,
        "current_step": execution.current_step,
        "error": execution.error,
        "started_at": format_time(execution.started_at),
        "finished_at": format_optional_time(finished),
        "duration_ms": round(duration, 3) if duration is not None else None,
        "parent_id": execution.parent_id,
    }
