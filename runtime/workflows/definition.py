"""What a workflow is: its kind, its steps, its error strategy and (by kind) its condition or
loop. Definitions are built once from the tables scripts write and checked there, so a bad
definition fails when it is made, not half-way through a run."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llmspell.runtime.errors import InvalidArgument, kind_of
from llmspell.storage.values import MAX_INTEGER, shown

KINDS = ("sequential", "parallel", "conditional", "loop")
STEP_TYPES = ("tool", "lua", "workflow", "agent")
STRATEGIES = ("fail_fast", "continue", "retry")
CONDITION_TYPES = ("always", "never", "input_equals", "input_exists")
# a parallel run's `merged`: every branch's output by name, the first branch to succeed, or
# the output most branches agree on
MERGE_STRATEGIES = ("combine", "first", "vote")
DEFAULT_MAX_ITERATIONS = 1000
MAX_STEPS = 10_000
MAX_BACKOFF_MS = 3_600_000  # the longest wait between two attempts of a retried step
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
STEP_KEYS = {"name", "type", "tool", "agent", "workflow", "fn", "input", "prompt"}


@dataclass(frozen=True)
class ErrorStrategy:
    """What a failed step does to the run: stop it (`fail_fast`), let the rest run
    (`continue`), or try the step again up to `max_attempts` times with exponential backoff
    from `backoff_ms` and stop the run if it still fails (`retry`)."""

    kind: str = "fail_fast"
    max_attempts: int = 1
    backoff_ms: float = 0.0
    given: bool = True  # False: the default, which Workflow.setDefaultErrorHandler may decide

    def delay_s(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (2, 3, ...)."""
        return self.backoff_ms * 2.0 ** (attempt - 2) / 1000


@dataclass(frozen=True)
class Condition:
    """A conditional's test: a script function of the input, or a declarative table."""

    kind: str  # "function" or one of CONDITION_TYPES
    fn: Callable[..., Any] | None = None
    key: str | None = None
    value: Any = None


@dataclass(frozen=True)
class LoopSpec:
    """What a loop iterates over: a range (inclusive, like Lua's numeric for), a collection,
    or for as long as `while_fn(input, index, previous)` is true; at most `max_iterations`."""

    items: tuple[Any, ...] | None = None  # range or collection, expanded
    while_fn: Callable[..., Any] | None = None
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    # the reference's `update(context, result)`: after each iteration it changes the loop's
    # context (a copy of the input), which while_fn and the body's input then see
    update: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Step:
    """One step of a workflow."""

    name: str
    type: str  # one of STEP_TYPES
    position: int
    tool: str | None = None
    agent: str | None = None
    workflow: WorkflowDefinition | None = None
    fn: Callable[..., Any] | None = None
    input: Any = None  # may hold {{...}} placeholders; None: the default input of its type


@dataclass(frozen=True)
class WorkflowDefinition:
    """A workflow. `steps` are the steps of a sequential or parallel workflow, the body of a
    loop, or the then-branch of a conditional (`else_steps` is its else-branch)."""

    name: str
    kind: str
    steps: tuple[Step, ...]
    else_steps: tuple[Step, ...] = ()
    condition: Condition | None = None
    loop: LoopSpec | None = None
    error_strategy: ErrorStrategy = field(default_factory=ErrorStrategy)
    max_concurrency: int | None = None
    description: str = ""
    timeout_s: float | None = None  # the run fails once it has taken longer (timeout_ms)
    merge_strategy: str = "combine"  # a parallel run's `merged`: combine, first or vote

    def all_steps(self) -> tuple[Step, ...]:
        return self.steps + self.else_steps

    def step_names(self) -> list[str]:
        return [step.name for step in self.all_steps()]


def parse_workflow(
    kind: str, spec: Mapping[str, Any], resolve: Callable[[Any], Any]
) -> WorkflowDefinition:
    """The definition a script's table describes. `resolve(value)` turns a script's workflow
    object (in a `workflow` step) into its definition, or returns None."""
    if kind not in KINDS:
        raise InvalidArgument(f"workflow type must be one of {', '.join(KINDS)}, got {kind!r}")
    allowed = {"name", "description", "error_strategy", "timeout_ms"} | _KIND_KEYS[kind]
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InvalidArgument(
            f"unknown option {unknown[0]!r} for a {kind} workflow; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
    name = _name("workflow name", spec.get("name"))
    description = spec.get("description") or ""
    if not isinstance(description, str):
        raise InvalidArgument(f"description must be a string, got {kind_of(description)}")
    strategy = parse_error_strategy(spec.get("error_strategy"))
    condition, loop, max_concurrency = None, None, None
    else_steps: tuple[Step, ...] = ()
    if kind == "conditional":
        steps = parse_steps(spec.get("then_steps"), "then_steps", resolve, required=True)
        else_steps = parse_steps(spec.get("else_steps"), "else_steps", resolve, start=len(steps))
        condition = parse_condition(spec.get("condition"))
    elif kind == "loop":
        steps = parse_steps(spec.get("body"), "body", resolve, required=True)
        loop = parse_loop(spec)
    else:
        steps = parse_steps(spec.get("steps"), "steps", resolve, required=True)
        if kind == "parallel" and spec.get("max_concurrency") is not None:
            max_concurrency = _positive_int("max_concurrency", spec["max_concurrency"])
    merge = spec.get("merge_strategy", "combine")
    if merge not in MERGE_STRATEGIES:
        raise InvalidArgument(
            f"merge_strategy must be one of {', '.join(MERGE_STRATEGIES)}, got {merge!r}"
        )
    timeout_ms = spec.get("timeout_ms")
    timeout_s = None if timeout_ms is None else _positive_int("timeout_ms", timeout_ms) / 1000
    names = [s.name for s in (*steps, *else_steps)]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidArgument(
            f"step name {twice[0]!r} is used twice in workflow {name!r}; step names must be unique"
        )
    return WorkflowDefinition(
        name=name,
        kind=kind,
        steps=steps,
        else_steps=else_steps,
        condition=condition,
        loop=loop,
        error_strategy=strategy,
        max_concurrency=max_concurrency,
        description=description,
        timeout_s=timeout_s,
        merge_strategy=merge,
    )


_KIND_KEYS = {
    "sequential": {"steps"},
    "parallel": {"steps", "max_concurrency", "merge_strategy"},
    "conditional": {"condition", "then_steps", "else_steps"},
    "loop": {"body", "range", "collection", "while_fn", "max_iterations", "update"},
}


def parse_steps(
    value: Any, what: str, resolve: Callable[[Any], Any], required: bool = False, start: int = 0
) -> tuple[Step, ...]:
    if value is None or value == {}:
        value = []
    if not isinstance(value, list):
        raise InvalidArgument(f"{what} must be a list of step tables, got {kind_of(value)}")
    if required and not value:
        raise InvalidArgument(f"{what} must hold at least one step")
    if len(value) > MAX_STEPS:
        raise InvalidArgument(f"{what} has {len(value)} steps; the limit is {MAX_STEPS}")
    return tuple(parse_step(item, start + i, resolve) for i, item in enumerate(value))


def parse_step(spec: Any, position: int, resolve: Callable[[Any], Any]) -> Step:
    where = f"step {position + 1}"
    if not isinstance(spec, Mapping):
        raise InvalidArgument(f"{where} must be a table, got {kind_of(spec)}")
    unknown = sorted(set(spec) - STEP_KEYS)
    if unknown:
        raise InvalidArgument(
            f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(STEP_KEYS))}"
        )
    name = _name(f"{where} name", spec.get("name", f"step{position + 1}"))
    where = f"step {name!r}"
    step_type = spec.get("type")
    if step_type is None:  # the type follows from the one field that names the work
        found = [t for t, key in _TYPE_KEYS.items() if spec.get(key) is not None]
        step_type = found[0] if len(found) == 1 else None
    if step_type not in STEP_TYPES:
        raise InvalidArgument(
            f"{where}: type must be one of {', '.join(STEP_TYPES)}, got {step_type!r}"
        )
    key = _TYPE_KEYS[step_type]
    target = spec.get(key)
    agent_name = getattr(target, "agent_name", None)
    if step_type == "agent" and isinstance(agent_name, str):
        target = agent_name  # an agent object stands for its name
    step_input = spec.get("input")
    if spec.get("prompt") is not None:
        if step_type != "agent":
            raise InvalidArgument(f"{where}: prompt is for agent steps; use input")
        if step_input is not None:
            raise InvalidArgument(f"{where}: give the agent either prompt or input, not both")
        step_input = spec["prompt"]
    fields: dict[str, Any] = {}
    if step_type in ("tool", "agent"):
        if not isinstance(target, str) or not target:
            raise InvalidArgument(f"{where}: a {step_type} step needs {key} = <name>")
        fields[key] = target
    elif step_type == "lua":
        if not callable(target):
            raise InvalidArgument(
                f"{where}: a lua step needs fn = <function>, got {kind_of(target)}"
            )
        fields["fn"] = target
    else:
        definition = resolve(target)
        if definition is None:
            raise InvalidArgument(
                f"{where}: a workflow step needs workflow = <a workflow object>, "
                f"got {kind_of(target)}"
            )
        fields["workflow"] = definition
    return Step(name=name, type=step_type, position=position, input=step_input, **fields)


_TYPE_KEYS = {"tool": "tool", "agent": "agent", "workflow": "workflow", "lua": "fn"}


def parse_error_strategy(value: Any) -> ErrorStrategy:
    """`"fail_fast"` (default), `"continue"`, `"retry"` (3 attempts, 100 ms backoff) or
    `{type = "retry", max_attempts = n, backoff_ms = ms}`."""
    if value is None:
        return ErrorStrategy(given=False)
    if value == "fail_fast":
        return ErrorStrategy()
    if value == "continue":
        return ErrorStrategy("continue")
    if value == "retry":
        return ErrorStrategy("retry", 3, 100.0)
    if isinstance(value, Mapping) and value.get("type") == "retry":
        unknown = sorted(set(value) - {"type", "max_attempts", "backoff_ms"})
        if unknown:
            raise InvalidArgument(
                f"error_strategy: unknown field {unknown[0]!r}; allowed: type, max_attempts, "
                "backoff_ms"
            )
        attempts = _positive_int("error_strategy.max_attempts", value.get("max_attempts", 3))
        backoff = value.get("backoff_ms", 100)
        if (
            isinstance(backoff, bool)
            or not isinstance(backoff, (int, float))
            or not 0 <= backoff <= MAX_BACKOFF_MS
        ):
            raise InvalidArgument(
                f"error_strategy.backoff_ms must be a number from 0 to {MAX_BACKOFF_MS} "
                f"(an hour), got {shown(backoff)}"
            )
        return ErrorStrategy("retry", attempts, float(backoff))
    raise InvalidArgument(
        'error_strategy must be "fail_fast", "continue", "retry" or '
        f'{{type = "retry", max_attempts = n, backoff_ms = ms}}, got {value!r}'
    )


def parse_condition(value: Any) -> Condition:
    """A function of the input, or `{type = "always"|"never"}`,
    `{type = "input_equals", key = "a.b", value = v}`, `{type = "input_exists", key = "a.b"}`."""
    if callable(value):
        return Condition("function", fn=value)
    if isinstance(value, Mapping):
        kind = value.get("type")
        if kind not in CONDITION_TYPES:
            raise InvalidArgument(
                f"condition type must be one of {', '.join(CONDITION_TYPES)}, got {kind!r}"
            )
        allowed = {"type"} | ({"key"} if kind == "input_exists" else set())
        allowed |= {"key", "value"} if kind == "input_equals" else set()
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise InvalidArgument(
                f"condition {kind}: unknown field {unknown[0]!r}; allowed: "
                f"{', '.join(sorted(allowed))}"
            )
        key = value.get("key")
        if kind in ("input_equals", "input_exists") and (not isinstance(key, str) or not key):
            raise InvalidArgument(f"condition {kind} needs key = <input field, dotted>")
        return Condition(kind, key=key, value=value.get("value"))
    raise InvalidArgument(
        f'condition must be a function or a table like {{type = "input_equals", key = ..., '
        f"value = ...}}, got {kind_of(value)}"
    )


def parse_loop(spec: Mapping[str, Any]) -> LoopSpec:
    update = spec.get("update")
    if update is not None and not callable(update):
        raise InvalidArgument(f"update must be a function, got {kind_of(update)}")
    return replace(_loop_kind(spec), update=update)


def _loop_kind(spec: Mapping[str, Any]) -> LoopSpec:
    given = [k for k in ("range", "collection", "while_fn") if spec.get(k) is not None]
    if not given and spec.get("max_iterations") is not None:
        # the reference's loop of a body and max_iterations alone: that many iterations
        count = _positive_int("max_iterations", spec["max_iterations"])
        return LoopSpec(items=tuple(range(1, count + 1)), max_iterations=count)
    if len(given) != 1:
        raise InvalidArgument(
            "a loop needs exactly one of range = {start, stop, step?}, collection = {...}, "
            f"while_fn = <function> or max_iterations alone; got {', '.join(given) or 'none'}"
        )
    max_iterations = _positive_int(
        "max_iterations", spec.get("max_iterations", DEFAULT_MAX_ITERATIONS)
    )
    kind = given[0]
    if kind == "while_fn":
        fn = spec["while_fn"]
        if not callable(fn):
            raise InvalidArgument(f"while_fn must be a function, got {kind_of(fn)}")
        return LoopSpec(while_fn=fn, max_iterations=max_iterations)
    items = _range_items(spec["range"], max_iterations) if kind == "range" else spec["collection"]
    if items == {}:
        items = []
    if not isinstance(items, list):
        raise InvalidArgument(f"collection must be a list, got {kind_of(items)}")
    if len(items) > max_iterations:
        raise InvalidArgument(
            f"the loop would run {len(items)} iterations; max_iterations is {max_iterations}"
        )
    return LoopSpec(items=tuple(items), max_iterations=max_iterations)


def _range_items(value: Any, max_iterations: int) -> list[int | float]:
    if isinstance(value, Mapping):
        parts = [value.get("start"), value.get("stop"), value.get("step", 1)]
    elif isinstance(value, list) and len(value) in (2, 3):
        parts = [*value, 1] if len(value) == 2 else list(value)
    else:
        raise InvalidArgument(
            f"range must be {{start, stop, step?}} or {{start = a, stop = b, step = c}}, "
            f"got {value!r}"
        )
    if not all(
        isinstance(p, (int, float)) and not isinstance(p, bool) and math.isfinite(p) for p in parts
    ):
        raise InvalidArgument(
            f"range start, stop and step must be finite numbers, got {shown(parts)}"
        )
    start, stop, step = parts
    if step == 0:
        raise InvalidArgument("range step must not be 0")
    count = int((stop - start) // step) + 1 if (stop - start) * step >= 0 else 0
    if count > max_iterations:
        raise InvalidArgument(
            f"the loop would run {shown(count)} iterations; max_iterations is {max_iterations}"
        )
    return [start + i * step for i in range(count)]


def _name(what: str, value: Any) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise InvalidArgument(
            f"{what} must be 1-128 characters (a letter or _, then letters, digits, _ or -), "
            f"got {value!r}"
        )
    return value


def _positive_int(what: str, value: Any) -> int:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or not 1 <= value <= MAX_INTEGER:
        raise InvalidArgument(
            f"{what} must be an integer from 1 to {MAX_INTEGER}, got {shown(value)}"
        )
    return int(value)
