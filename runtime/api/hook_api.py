"""`Hook`: callbacks at lifecycle points of the runtime, with their recorded history."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.arguments import (
    check_options,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace, ApiObject
from llmspell.runtime.display import Records
from llmspell.runtime.errors import Disabled
from llmspell.runtime.hooks import (
    HOOK_POINTS,
    HookRegistry,
    RegisteredHook,
    check_point,
    check_priority,
)
from llmspell.runtime.times import format_time

# hook_point, language, priority and tag: the reference system's filter
LIST_FILTERS = frozenset({"point", "hook_point", "name", "language", "priority", "tag"})
HISTORY_FILTERS = frozenset({"point", "correlation_id", "limit"})
LANGUAGES = frozenset({"lua", "python"})
HOOK_COLUMNS = ["id", "point", "priority", "name"]
EXECUTION_COLUMNS = [
    "started_at",
    "point",
    "component",
    "result",
    "duration_ms",
    "error",
    "hook_id",
    "hook_name",
    "correlation_id",
    "session_id",
    "execution_id",
    "context",
]


class HookHandle(ApiObject):
    """A registered hook: `handle:id()`, `handle:hook_point()`, `handle:unregister()`."""

    api_name = "HookHandle"

    def __init__(self, registry: HookRegistry, hook: RegisteredHook) -> None:
        self._registry = registry
        self.hook = hook

    def id(self) -> str:
        """The hook's id (as in `Hook.list()` and `Hook.history()`)."""
        return self.hook.id

    def hook_point(self) -> str:
        """The point the hook is registered at (e.g. "BeforeToolExecution")."""
        return self.hook.point

    def unregister(self) -> bool:
        """Stop calling this hook; true if it was still registered."""
        return self._registry.unregister(self.hook.id)

    def __repr__(self) -> str:
        return f"<HookHandle {self.hook.point} {self.hook.id}>"


def _hook_record(hook: RegisteredHook) -> dict[str, Any]:
    return {"id": hook.id, "point": hook.point, "priority": hook.priority, "name": hook.name}


class HookApi(ApiNamespace):
    """Run script functions at the runtime's lifecycle points (tool, agent and workflow
    execution, state writes, sessions, code execution, the runtime's close). A callback gets
    `{point, component, data, correlation_id}` and returns nil/"continue", "skip" (or
    "skipped"), `{type="modified", data=...}` (or type "replace"), "cancel" or `{type="cancel",
    reason=...}`; higher priority runs first. Every execution is recorded."""

    api_name = "Hook"

    @property
    def _hooks(self) -> HookRegistry:
        if not self._ctx.config.hooks.enabled:
            raise Disabled("hooks.enabled")
        return self._ctx.infrastructure.get(HookRegistry)

    def register(self, point: str, fn: Any, priority: Any = "normal") -> HookHandle:
        """Call `fn(context)` at `point` (one of the points `Hook.points()` lists); `priority`
        is "highest", "high", "normal" (default), "low", "lowest" or an integer (higher runs
        first, equal priorities in registration order). Returns a handle (`:id()`,
        `:hook_point()`, `:unregister()`). `SystemShutdown` runs as the runtime closes; the
        reference system's points llmspell never reaches (`SystemStartup`, agent init and
        shutdown, tool discovery, `ToolValidation`, `WorkflowStageTransition`,
        `WorkflowCheckpoint`, `WorkflowRollback`) are refused with the reason. A `cancel`
        stops the guarded operation, which raises `<operation>: cancelled by hook:
        <reason>`; an error in `fn` is recorded and the operation goes on."""
        name = "Hook.register"
        point = check_point(require_str(name, "point", point))
        if not callable(fn):
            raise ValueError(f"{name}: fn must be a function, got {type_name(fn)}")
        if isinstance(priority, float) and priority.is_integer():
            priority = int(priority)
        registry = self._hooks
        return HookHandle(registry, registry.register(point, fn, priority))

    def unregister(self, handle: Any) -> bool:
        """Remove a hook given its handle or id; true if it was registered."""
        if isinstance(handle, HookHandle):
            return handle.unregister()
        hook_id = require_str("Hook.unregister", "handle", handle)
        return self._hooks.unregister(hook_id)

    def list(self, filter: Any = None) -> Records:
        """Registered hooks in the order they run, `{id, point, priority, name}`; `filter` is
        a point name or `{point? (or hook_point), name?, priority?, language?, tag?}`
        (`priority` a name or an integer; `language` "lua" or "python" is checked but does not
        narrow the list, since every hook is a function of this runtime's one engine; hooks
        carry no tags, so a `tag` matches none)."""
        fn = "Hook.list"
        opts = {"point": filter} if isinstance(filter, str) else require_table(fn, "filter", filter)
        check_options(fn, opts, LIST_FILTERS)
        point = opts.get("point", opts.get("hook_point"))
        hooks = self._hooks.hooks(None if point is None else require_str(fn, "point", point))
        if opts.get("name") is not None:
            wanted = require_str(fn, "name", opts["name"])
            hooks = [h for h in hooks if h.name == wanted]
        if opts.get("priority") is not None:
            priority = opts["priority"]
            if isinstance(priority, float) and priority.is_integer():
                priority = int(priority)
            try:
                rank = check_priority(priority)
            except ValueError as exc:
                raise ValueError(f"{fn}: {exc}") from None
            hooks = [h for h in hooks if h.priority == rank]
        if opts.get("language") is not None:
            language = require_str(fn, "language", opts["language"])
            if language not in LANGUAGES:
                raise ValueError(f"{fn}: language must be lua or python, got {language!r}")
        if opts.get("tag") is not None:
            require_str(fn, "tag", opts["tag"])
            hooks = []
        return Records([_hook_record(h) for h in hooks], HOOK_COLUMNS)

    def points(self) -> tuple[str, ...]:
        """Every hook point, in the order of the spec."""
        return HOOK_POINTS

    def history(self, filter: Any = None) -> Records:
        """Recorded hook executions, newest first: `{execution_id, hook_id, hook_name, point,
        component, correlation_id, session_id, started_at, duration_ms, result, error,
        context}` (`result`: continue, skip, modified, cancel or error). Filter `{point?,
        correlation_id?, limit?}`."""
        fn = "Hook.history"
        opts = require_table(fn, "filter", filter)
        check_options(fn, opts, HISTORY_FILTERS)
        point = opts.get("point")
        correlation_id = opts.get("correlation_id")
        limit = opts.get("limit")
        executions = self._hooks.history(
            point=None if point is None else require_str(fn, "point", point),
            correlation_id=(
                None
                if correlation_id is None
                else require_str(fn, "correlation_id", correlation_id)
            ),
            limit=None if limit is None else require_int(fn, "limit", limit, minimum=0),
        )
        rows = [
            {
                "execution_id": e.execution_id,
                "hook_id": e.hook_id,
                "hook_name": e.hook_name,
                "point": e.point,
                "component": e.component,
                "correlation_id": e.correlation_id,
                "session_id": e.session_id,
                "started_at": format_time(e.started_at),
                "duration_ms": e.duration_ms,
                "result": e.result,
                "error": e.error,
                "context": e.context,
            }
            for e in executions
        ]
        return Records(rows, EXECUTION_COLUMNS)
