"""The tool registry: built-in and user tools, each with a JSON Schema for its parameters, and
the one way a tool runs (validation, hooks, result table).

A call is three stages so a workflow can run the middle one in a thread pool: `prepare`
(validate, BeforeToolExecution) and `finish` (AfterToolExecution / ToolError) run on the
script's thread, because hooks may be script functions; `ToolCall.run` runs the tool itself
and, for built-ins, may run on any thread. User tools call script functions, which only the
script's thread may call: their `script_side` flag keeps them there.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.base import ApiError
from llmspell.runtime.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    ScriptStopping,
    kind_of,
)
from llmspell.runtime.host_limits import UNLIMITED, HostLimits

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError as SchemaViolation
    from jsonschema.protocols import Validator

    from llmspell.runtime.config import ToolsConfig
    from llmspell.runtime.hooks import HookRegistry
    from llmspell.runtime.infrastructure import Infrastructure

logger = logging.getLogger("llmspell.tools")

ANY_PARAMS: dict[str, Any] = {"type": "object"}
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"
# JSON Schema type names in the words scripts use.
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "a table of named fields",
    "array": "a list",
    "null": "nil",
}


class ToolFailure(Exception):
    """A tool could not do what it was asked (bad expression, missing file): the call returns
    `{success=false, error=<message>}` instead of raising."""


@dataclass(frozen=True)
class ToolOutput:
    """What a tool returns when it has metadata besides its result."""

    result: Any
    metadata: dict[str, Any] = field(default_factory=dict)
    # Fields the reference system's scripts read at the top of the result (`result.uuid`).
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Tool:
    """A tool: what it is, the schema of its parameters, and the function that runs it."""

    name: str
    description: str
    category: str
    schema: dict[str, Any]
    run: Callable[[dict[str, Any]], Any] = field(repr=False)
    version: str = "1.0.0"
    tags: tuple[str, ...] = ()
    builtin: bool = True
    # A user tool runs a script function, which only the script's thread may call.
    script_side: bool = False
    # The reference system's names for parameters this tool calls otherwise: {"content": "input"}.
    aliases: Mapping[str, str] = field(default_factory=dict)
    # The reference system's other call forms turned into this tool's parameters.
    reference_form: Callable[[dict[str, Any]], dict[str, Any]] | None = field(
        default=None, repr=False
    )
    # Why a tool of the reference system is not offered here; running it fails with this.
    disabled: str | None = None
    validator: Validator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Imported here: jsonschema costs tens of ms, which a script that runs no tool (and
        # the start of every runtime) should not pay.
        from llmspell.runtime.tools.json_schema import SchemaProblem, compile_schema

        try:
            validator = compile_schema(self.schema)
        except SchemaProblem as exc:
            raise InvalidArgument(f"schema of tool {self.name!r} {exc}") from None
        object.__setattr__(self, "validator", validator)

    def info(self) -> dict[str, Any]:
        """The record `Tool.list()` shows."""
        return {
            "name": self.name,
            "description": self.description,
            "category": self.category,
            "version": self.version,
        }


@dataclass
class ToolCall:
    """One validated call of a tool, between `prepare` and `finish`."""

    tool: Tool
    params: dict[str, Any]
    correlation_id: str
    value: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started: float = 0.0  # time.monotonic() at start of run
    finished: float = 0.0

    @property
    def duration_ms(self) -> float:
        return (self.finished - self.started) * 1000

    def run(self) -> ToolCall:
        """Run the tool; a failure while running is kept as `error`, not raised. A path
        outside `tools.allowed_paths` (PathNotAllowed) and a stopping script (ScriptStopping)
        do raise."""
        self.started = time.monotonic()
        from llmspell.runtime.tools.paths import PathNotAllowed

        try:
            output = self.tool.run(self.params)
        except (PathNotAllowed, ScriptStopping):
            # Not failed runs: reaching outside the allowed paths raises, and so does a user
            # tool stopped because the script is stopping.
            self.finished = time.monotonic()
            raise
        except (ToolFailure, DomainError, ApiError) as exc:
            # ApiError: a script function (a user tool) failed; its message says why.
            self.error = str(exc)
        except Exception as exc:
            # A bug in a tool: the call reports it instead of crashing the script.
            logger.info("tool %s failed", self.tool.name, exc_info=True)
            self.error = f"{type(exc).__name__}: {exc}"
        else:
            if isinstance(output, ToolOutput):
                self.value, self.metadata = output.result, dict(output.metadata)
                self.fields = dict(output.fields)
            else:
                self.value = output
        self.finished = time.monotonic()
        return self

    def result_table(self) -> dict[str, Any]:
        """`{success, result, error?, metadata}` as scripts see it, with the reference
        system's fields: `text` (the result as text) and, at the top, the fields of a result
        that is a table and the tool's own `fields`."""
        metadata = {
            "tool": self.tool.name,
            "duration_ms": round(self.duration_ms, 3),
            **self.metadata,
        }
        if self.error is not None:
            return {"success": False, "result": None, "error": self.error, "metadata": metadata}
        from llmspell.runtime.display.text import text_of

        top = dict(self.value) if isinstance(self.value, dict) else {}
        top.update(self.fields)
        # A result's own `text` (a tool returning `{text = ...}`, the reference's pattern)
        # stays; the four fields of our own result table win over any other of the name.
        text = top.get("text")
        return {
            **top,
            "text": text if isinstance(text, str) else text_of(self.value),
            "success": True,
            "result": self.value,
            "metadata": metadata,
        }


class ToolRegistry:
    """The runtime's tools: the built-ins of its config plus tools scripts register."""

    def __init__(
        self,
        config: ToolsConfig,
        hooks: Callable[[], HookRegistry],
        limits: HostLimits = UNLIMITED,
    ) -> None:
        from llmspell.runtime.tools.builtins import REFERENCE_NAMES, builtin_tools

        self._hooks = hooks
        self._lock = threading.Lock()
        self._tools: dict[str, Tool] = {tool.name: tool for tool in builtin_tools(config, limits)}
        self._reference_names = REFERENCE_NAMES
        from llmspell.runtime.tools.paths import private_temp_path, private_temp_root

        if private_temp_path() in config.allowed_paths:
            private_temp_root()  # made again if the temporary directory was cleaned meanwhile

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> ToolRegistry:
        from llmspell.runtime.hooks import HookRegistry

        return cls(infra.config.tools, lambda: infra.get(HookRegistry), infra.limits)

    # --- the catalogue --------------------------------------------------------------------

    def all_tools(self) -> list[Tool]:
        """Every tool, by name."""
        return [self._tools[name] for name in sorted(self._tools)]

    def get(self, name: str) -> Tool:
        """The tool called `name` (or by the reference system's name for it:
        `date-time-handler`, `file_operations`); NotFound naming the tools there are."""
        tool = self._find(name)
        if tool is None:
            raise NotFound(
                f"no tool named {name!r}; tools: "
                f"{', '.join(n for n, t in sorted(self._tools.items()) if t.disabled is None)}"
                if isinstance(name, str)
                else f"tool name must be a string, got {kind_of(name)}"
            )
        return tool

    def exists(self, name: str) -> bool:
        return self._find(name) is not None

    def _find(self, name: Any) -> Tool | None:
        if not isinstance(name, str):
            return None
        tool = self._tools.get(name)
        if tool is None:
            # The reference system's documents also spell its tools with underscores.
            hyphenated = name.replace("_", "-")
            tool = self._tools.get(self._reference_names.get(hyphenated, hyphenated))
        return tool

    def categories(self) -> list[str]:
        return sorted({tool.category for tool in self._tools.values()})

    def discover(self, category: str | None = None, tag: str | None = None) -> list[Tool]:
        """Tools of `category` and/or carrying `tag` (all tools when neither is given)."""
        return [
            tool
            for tool in self.all_tools()
            if (category is None or tool.category == category) and (tag is None or tag in tool.tags)
        ]

    def register(
        self,
        name: str,
        description: str,
        fn: Callable[[dict[str, Any]], Any],
        schema: dict[str, Any] | None = None,
        category: str = "custom",
        tags: tuple[str, ...] = (),
    ) -> Tool:
        """Make `fn(params)` a tool; its return value is the call's `result`. Registering a
        user tool's name again replaces it; a built-in's name is refused."""
        import re

        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            raise InvalidArgument(
                f"name must be 1-64 characters (a letter, then letters, digits, _ . -), "
                f"got {name!r}"
            )
        if not callable(fn):
            raise InvalidArgument(f"fn must be a function, got {kind_of(fn)}")
        return self.add(
            Tool(
                name=name,
                description=description,
                category=category,
                schema=dict(ANY_PARAMS) if schema is None else schema,
                run=fn,
                tags=tuple(tags),
                builtin=False,
                script_side=True,
            )
        )

    def add(self, tool: Tool) -> Tool:
        """Add a tool written in Python (an extension, a component's own tool). Unless it is
        marked `script_side`, workflows may run it on a pool thread, so it must be
        thread-safe. A built-in's name is refused; another tool of the name is replaced."""
        with self._lock:
            existing = self._tools.get(tool.name)
            if existing is not None and existing.builtin:
                raise InvalidArgument(
                    f"{tool.name!r} is a built-in tool and cannot be replaced; choose another name"
                )
            self._tools[tool.name] = tool
        return tool

    # --- running --------------------------------------------------------------------------

    def prepare(self, name: str, params: Any, correlation_id: str | None = None) -> ToolCall:
        """Validate `params` against the tool's schema and run BeforeToolExecution (which may
        change them or cancel the call: HookCancelled). Raises for an unknown tool or params
        that break the schema, naming the tool, the parameter and what was expected."""
        tool = self.get(name)
        params = validate_params(tool, params)
        correlation_id = correlation_id or str(uuid.uuid4())
        changed = self._hooks().run("BeforeToolExecution", tool.name, params, correlation_id)
        if changed is not params:
            params = validate_params(tool, changed)
        return ToolCall(tool=tool, params=params, correlation_id=correlation_id)

    def finish(self, call: ToolCall) -> dict[str, Any]:
        """The call's result table after ToolError (on failure) and AfterToolExecution (which
        may replace it)."""
        hooks = self._hooks()
        result = call.result_table()
        if call.error is not None:
            hooks.run(
                "ToolError",
                call.tool.name,
                {"params": call.params, "error": call.error},
                call.correlation_id,
            )
        after: dict[str, Any] = hooks.run(
            "AfterToolExecution", call.tool.name, result, call.correlation_id
        )
        return after

    def execute(self, name: str, params: Any, correlation_id: str | None = None) -> dict[str, Any]:
        """Run a tool on this thread: `{success, result, error?, metadata}`."""
        return self.finish(self.prepare(name, params, correlation_id).run())


def validate_params(tool: Tool, params: Any) -> dict[str, Any]:
    """`params` if they satisfy the tool's schema (an empty list counts as an empty table);
    InvalidArgument naming the tool, the parameter and what was expected otherwise."""
    if params is None or params == []:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidArgument(
            f"{tool.name}: params must be a table of named parameters, got {kind_of(params)}"
        )
    from jsonschema.exceptions import best_match

    from llmspell.runtime.tools.json_schema import SchemaProblem

    params = _empty_tables_as_lists(tool.schema, _our_names(tool, dict(params)))
    try:
        error = best_match(tool.validator.iter_errors(params))
    except SchemaProblem as exc:  # a pattern where the schema check does not look
        raise InvalidArgument(f"{tool.name}: schema {exc}") from None
    if error is not None:
        raise InvalidArgument(f"{tool.name}: {describe_violation(tool.schema, error)}")
    checked: dict[str, Any] = params
    return checked


def _our_names(tool: Tool, params: dict[str, Any]) -> dict[str, Any]:
    # The reference system's parameter names (`content`, `text`, `expression`) as ours.
    for theirs, ours in tool.aliases.items():
        if theirs in params:
            if ours in params:
                raise InvalidArgument(
                    f"{tool.name}: give {ours!r} or {theirs!r} (the same parameter), not both"
                )
            params[ours] = params.pop(theirs)
    return params if tool.reference_form is None else tool.reference_form(params)


def _empty_tables_as_lists(schema: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    # A script's `{}` cannot say whether it is a list or a table; where the schema wants a
    # list, it is an empty one.
    properties = schema.get("properties", {})
    for key, value in params.items():
        if value == {} and properties.get(key, {}).get("type") == "array":
            params[key] = []
    return params


def describe_violation(schema: dict[str, Any], error: SchemaViolation) -> str:
    """A schema violation in the words of the tool's user."""
    where = ".".join(str(p) for p in error.absolute_path)
    # jsonschema types these as "possibly unset"; a violation from iter_errors has them all
    validator: Any = error.validator
    expected: Any = error.validator_value
    at: Any = error.schema
    instance: Any = error.instance
    if validator == "required":
        missing = next((m for m in expected if m not in instance), expected[0])
        name = f"{where}.{missing}" if where else missing
        wanted = _property_schema(schema, [*error.absolute_path, missing]).get("type")
        what = f" ({_TYPE_WORDS.get(wanted, wanted)})" if isinstance(wanted, str) else ""
        return f"parameter {name!r} is required{what}"
    if validator == "additionalProperties":
        known = sorted(at.get("properties", {}))
        extra = sorted(set(instance) - set(known))
        prefix = f"{where}." if where else ""
        return f"unknown parameter {prefix + extra[0]!r}; parameters: {', '.join(known) or 'none'}"
    label = f"parameter {where!r}" if where else "params"
    if validator in {"oneOf", "anyOf"} and all(
        set(sub) == {"required"} for sub in expected if isinstance(sub, dict)
    ):
        names = [name for sub in expected for name in sub["required"]]
        many = "exactly one" if validator == "oneOf" else "at least one"
        return f"{label} must have {many} of {', '.join(repr(n) for n in names)}"
    if validator == "type":
        wanted = expected if isinstance(expected, list) else [expected]
        words = " or ".join(_TYPE_WORDS.get(str(w), str(w)) for w in wanted)
        return f"{label} must be {words}, got {kind_of(instance)}"
    if validator == "enum":
        return f"{label} must be one of {', '.join(repr(v) for v in expected)}, got {instance!r}"
    if validator == "maxLength":
        return f"{label} must be at most {expected} characters, got {len(instance)}"
    if validator == "minLength":
        return f"{label} must be at least {expected} characters"
    if validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return f"{label} {error.message}"
    return f"{label}: {error.message}"


def _property_schema(schema: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    node = schema
    for part in path:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, {})
    return node
