"""`Tool`: run built-in and user tools, list and inspect them, register script functions."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    optional_str,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace, ValidationError

if TYPE_CHECKING:
    from llmspell.runtime.tools.registry import Tool, ToolRegistry

# JSON Schema keywords whose value is a list: a script's empty table there means [].
_LIST_KEYWORDS = {"required", "enum", "allOf", "anyOf", "oneOf", "prefixItems", "type"}


class ToolApi(ApiNamespace):
    """Built-in tools (calculator, json-processor, file-operations, ...) and tools registered
    by scripts. Every call's parameters are checked against the tool's JSON Schema first."""

    api_name = "Tool"

    @property
    def _tools(self) -> ToolRegistry:
        from llmspell.runtime.tools.registry import ToolRegistry

        return self._ctx.infrastructure.get(ToolRegistry)

    def execute(self, name: str, params: Any = None, options: Any = None) -> dict[str, Any]:
        """Run tool `name` with a table of parameters; returns `{success, result, text,
        error?, metadata}` plus, at the top, the fields of a result that is a table and the
        tool's own fields (`uuid`, `hash`, `value`). An unknown tool or parameters that break
        the tool's schema raise (naming the parameter and the expected type); a failure while
        running returns `success=false` with `error`. BeforeToolExecution hooks may change
        the parameters or cancel the call (it then raises "cancelled by hook: <reason>");
        AfterToolExecution hooks may change the result; ToolError hooks see failures.
        `options` (the reference's configuration table): `timeout` (milliseconds, for a
        built-in tool: past it the call fails saying so), `retry` (up to 10 more runs while
        it fails; `metadata.attempts` counts them), `cache` (true: an identical earlier
        successful call's result is returned again, marked `metadata.cached`)."""
        from llmspell.runtime.tools import call_options

        name = require_str("Tool.execute", "name", name)
        if options is None:
            return self._tools.execute(name, params)
        chosen = call_options.CallOptions.parse("Tool.execute", options)
        cache = self.__dict__.setdefault("_result_cache", call_options.ResultCache())
        return call_options.execute(
            self._tools, name, params, chosen, cache, self._ctx.stop_requested
        )

    def batch(self, calls: Any) -> builtins.list[dict[str, Any]]:
        """Run `{ {name=..., params=...}, ... }` one after another; their results in order."""
        if calls == {}:  # a script's empty table
            calls = []
        if not isinstance(calls, builtins.list):
            raise ValidationError(
                f"Tool.batch: calls must be a list of {{name, params}} tables, got "
                f"{type_name(calls)}"
            )
        results = []
        for i, call in enumerate(calls, 1):
            where = f"Tool.batch: call {i}"
            options = require_table(where, "call", call)
            check_options(where, options, {"name", "params"})
            results.append(
                self._tools.execute(
                    require_str(where, "name", options.get("name")), options.get("params")
                )
            )
        return results

    def list(self) -> list[dict[str, Any]]:
        """Every tool as `{name, description, category, version}`, by name."""
        return [tool.info() for tool in self._tools.all_tools()]

    def get(self, name: str) -> dict[str, Any]:
        """A tool's record with its parameter `schema`, `tags`, whether it is `builtin`, and
        `execute` and `getSchema` functions: `Tool.get("calculator"):execute{input = "1+1"}`.
        The reference system's names work too (`date-time-handler`, `file_operations`)."""
        tool = self._tools.get(require_str("Tool.get", "name", name))
        return self._record(tool)

    def get_info(self, name: str) -> dict[str, Any]:
        """A tool's description: as `list()` shows it, plus `parameters` (its JSON Schema),
        `tags`, `builtin`, `enabled` and, for a tool of the reference system that llmspell
        does not offer, `disabled_reason`."""
        tool = self._tools.get(require_str("Tool.get_info", "name", name))
        return _info(tool)

    def get_schema(self, name: str) -> dict[str, Any]:
        """The JSON Schema of a tool's parameters."""
        return self._tools.get(require_str("Tool.get_schema", "name", name)).schema

    def exists(self, name: str) -> bool:
        """Whether a tool called `name` exists."""
        return isinstance(name, str) and self._tools.exists(name)

    def categories(self) -> builtins.list[str]:
        """The categories of the tools there are, sorted."""
        return self._tools.categories()

    def discover(self, filter: Any = None) -> builtins.list[dict[str, Any]]:
        """Tools matching `{category?, tag?, capabilities?}` (all tools without a filter), as
        in `list()`; `capabilities` is a list of tags a tool must all carry."""
        options = require_table("Tool.discover", "filter", filter)
        check_options("Tool.discover", options, {"category", "tag", "capabilities"})
        category = optional_str("Tool.discover", "category", options.get("category"))
        tag = optional_str("Tool.discover", "tag", options.get("tag"))
        wanted = options.get("capabilities") or []
        if not isinstance(wanted, builtins.list) or not all(isinstance(c, str) for c in wanted):
            raise ValidationError(
                f"Tool.discover: capabilities must be a list of strings, got {type_name(wanted)}"
            )
        return [
            tool.info()
            for tool in self._tools.discover(category, tag)
            if all(capability in tool.tags for capability in wanted)
        ]

    def register(self, spec: Any, fn: Any = None) -> dict[str, Any]:
        """Make a script function a tool: `Tool.register{name, description, schema?, fn,
        category?="custom", tags?}`, or the reference's `Tool.register(name, fn)`.
        `fn(params)` returns the call's `result`; an error it raises becomes `success=false`.
        `schema` is a JSON Schema for the parameters (default: any table). Registering the
        same name again replaces a user tool; a built-in's name raises. Returns the tool's
        record as `list()` shows it."""
        if isinstance(spec, str):
            if not callable(fn):
                raise ValidationError(
                    f"Tool.register: Tool.register(name, fn) needs a function as fn, got "
                    f"{type_name(fn)}"
                )
            spec = {"name": spec, "fn": fn}
        elif fn is not None:
            raise ValidationError(
                "Tool.register: give Tool.register{name=..., fn=...} or Tool.register(name, fn), "
                f"not a table and a {type_name(fn)}"
            )
        options = require_table("Tool.register", "spec", spec)
        check_options(
            "Tool.register", options, {"name", "description", "schema", "fn", "category", "tags"}
        )
        name = require_str("Tool.register", "name", options.get("name"))
        description = require_str(
            "Tool.register", "description", options.get("description", ""), allow_empty=True
        )
        fn = options.get("fn")
        if not callable(fn):
            raise ValidationError(f"Tool.register: fn must be a function, got {type_name(fn)}")
        schema = options.get("schema")
        if schema is not None:
            if not isinstance(schema, dict):
                raise ValidationError(
                    f"Tool.register: schema must be a table (a JSON Schema), got "
                    f"{type_name(schema)}"
                )
            schema = _lists_where_schema_wants_them(schema)
        category = require_str("Tool.register", "category", options.get("category", "custom"))
        tags = options.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValidationError("Tool.register: tags must be a list of strings")
        tool = self._tools.register(name, description, fn, schema, category, tuple(tags))
        return tool.info()

    def _record(self, tool: Tool) -> dict[str, Any]:
        def execute(*args: Any) -> dict[str, Any]:
            # `tool:execute(params)` passes the record first; `tool.execute(params)` does not.
            if args and _is_record_of(args[0], tool.name):
                args = args[1:]
            return ToolApi.execute(self, tool.name, args[0] if args else None)

        def get_schema(*args: Any) -> dict[str, Any]:
            return tool.schema  # `tool:getSchema()` or `tool.getSchema()`

        execute.__name__ = "Tool.execute"
        return {
            **tool.info(),
            "schema": tool.schema,
            "tags": list(tool.tags),
            "builtin": tool.builtin,
            "execute": execute,
            "getSchema": get_schema,
            "get_schema": get_schema,
        }


def _info(tool: Tool) -> dict[str, Any]:
    info = {
        **tool.info(),
        "parameters": tool.schema,
        "tags": list(tool.tags),
        "builtin": tool.builtin,
        "enabled": tool.disabled is None,
    }
    if tool.disabled is not None:
        info["disabled_reason"] = tool.disabled
    return info


def _is_record_of(value: Any, name: str) -> bool:
    return isinstance(value, dict) and value.get("name") == name and "schema" in value


def _lists_where_schema_wants_them(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            key: []
            if key in _LIST_KEYWORDS and value == {}
            else _lists_where_schema_wants_them(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_lists_where_schema_wants_them(item) for item in schema]
    return schema
