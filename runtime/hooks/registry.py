"""The hook dispatcher: callbacks at lifecycle points, run highest priority first, that may
continue, skip, modify or cancel the guarded operation; every run is recorded in hook history.

Every component that guards an operation with hooks calls `HookRegistry.run`; there is one
dispatcher per runtime (an Infrastructure manager).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from llmspell.runtime.errors import DomainError, InvalidArgument, ScriptStopping, kind_of
from llmspell.storage.values import MAX_INTEGER, shown

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.hooks import HookExecution, HookHistoryStore

logger = logging.getLogger("llmspell.hooks")

HOOK_POINTS = (
    "BeforeAgentExecution",
    "AfterAgentExecution",
    "BeforeToolExecution",
    "AfterToolExecution",
    "ToolError",
    "AgentError",
    "BeforeWorkflowStart",
    "BeforeWorkflowStage",
    "AfterWorkflowStage",
    "AfterWorkflowComplete",
    "WorkflowError",
    "BeforeStateWrite",
    "AfterStateWrite",
    "SessionStart",
    "SessionEnd",
    "BeforeCodeExecution",
    "AfterCodeExecution",
    "SystemShutdown",
)
# Points of the reference system (rs-llmspell v0.13.1) with no moment in llmspell: registering
# one is refused with the reason, since a hook that can never run would pass silently.
UNFIRED_POINTS = {
    "SystemStartup": "a script registers its hooks after its runtime has started",
    "BeforeAgentInit": "agents need no initialisation (a built agent is ready at once)",
    "AfterAgentInit": "agents need no initialisation (a built agent is ready at once)",
    "BeforeAgentShutdown": "agents hold nothing to shut down (they end with the runtime)",
    "AfterAgentShutdown": "agents hold nothing to shut down (they end with the runtime)",
    "BeforeToolDiscovery": "the tool list is fixed when the runtime starts",
    "AfterToolDiscovery": "the tool list is fixed when the runtime starts",
    "ToolValidation": "tool arguments are checked against the tool's schema, not by hooks "
    "(use BeforeToolExecution to check or change them)",
    "WorkflowStageTransition": "use AfterWorkflowStage and BeforeWorkflowStage, which run "
    "between consecutive steps",
    "WorkflowCheckpoint": "workflows record each step as it finishes; there is no separate "
    "checkpoint",
    "WorkflowRollback": "workflows do not roll back (a failed run is resumed with Workflow.resume)",
}
PRIORITIES = {"highest": 100, "high": 50, "normal": 0, "low": -50, "lowest": -100}
CALLBACK_RESULTS = (
    "nil, 'continue', 'skip' (or 'skipped'), 'cancel', {type='modified', data=...} (or "
    "type='replace'), or {type='cancel', reason=...}"
)
UNSUPPORTED_RESULTS = {
    "redirect": "llmspell operations cannot be redirected to another target",
    "retry": "llmspell does not retry an operation from a hook",
}


class HookCancelled(DomainError):
    """A hook cancelled the operation it guards."""

    def __init__(self, point: str, reason: str) -> None:
        super().__init__(f"cancelled by hook: {reason}")
        self.point = point
        self.reason = reason


class RegisteredHook(NamedTuple):  # not a dataclass: making one costs every start ~0.5 ms
    """A callback registered at a point."""

    id: str
    point: str
    priority: int
    name: str | None
    callback: Callable[[dict[str, Any]], Any]
    order: int  # registration order: the tie-break between equal priorities

    def __repr__(self) -> str:
        return (
            f"RegisteredHook(id={self.id!r}, point={self.point!r}, priority={self.priority!r}, "
            f"name={self.name!r})"
        )


def check_point(point: Any) -> str:
    """`point` if it is a hook point, else InvalidArgument listing the valid ones."""
    if isinstance(point, str) and point in UNFIRED_POINTS:
        raise InvalidArgument(
            f"hook point {point!r} is never reached in llmspell: {UNFIRED_POINTS[point]}; "
            f"valid points: {', '.join(HOOK_POINTS)}"
        )
    if point not in HOOK_POINTS:
        raise InvalidArgument(
            f"unknown hook point {point!r}; valid points: {', '.join(HOOK_POINTS)}"
        )
    return str(point)


def check_priority(priority: Any) -> int:
    """A priority as a number: a name from PRIORITIES or an integer (higher runs first)."""
    if isinstance(priority, str) and priority in PRIORITIES:
        return PRIORITIES[priority]
    if isinstance(priority, int) and not isinstance(priority, bool):
        if -MAX_INTEGER - 1 <= priority <= MAX_INTEGER:
            return priority
        raise InvalidArgument(
            f"priority must be an integer from {-MAX_INTEGER - 1} to {MAX_INTEGER}, "
            f"got {shown(priority)}"
        )
    raise InvalidArgument(
        f"priority must be one of {', '.join(PRIORITIES)} or an integer, got {shown(priority)}"
    )


class HookRegistry:
    """The hooks of one runtime and the one place that runs them.

    `history` opens the hook-history store on first record (storage opens lazily), so a runtime
    without hooks never touches storage for them.
    """

    def __init__(self, history: Callable[[], HookHistoryStore]) -> None:
        self._history = history
        self._hooks: dict[str, list[RegisteredHook]] = {}
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._last_started: datetime | None = None
        # The runtime's current session, recorded with every execution (set by the sessions
        # manager; Session.replay reads a session's executions back).
        self.session_source: Callable[[], str | None] = lambda: None

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> HookRegistry:
        return cls(lambda: infra.storage.hooks)

    def register(
        self,
        point: str,
        callback: Callable[[dict[str, Any]], Any],
        priority: str | int = "normal",
        name: str | None = None,
    ) -> RegisteredHook:
        """Call `callback(context)` at `point`; see the module doc for what it may return."""
        point = check_point(point)
        rank = check_priority(priority)
        if not callable(callback):
            raise InvalidArgument(f"callback must be a function, got {kind_of(callback)}")
        hook = RegisteredHook(
            id=new_id(),
            point=point,
            priority=rank,
            name=name,
            callback=callback,
            order=next(self._order),
        )
        with self._lock:
            hooks = [*self._hooks.get(point, []), hook]
            hooks.sort(key=lambda h: (-h.priority, h.order))
            self._hooks[point] = hooks
        return hook

    def unregister(self, hook_id: str) -> bool:
        """Remove a hook; True if it was registered."""
        with self._lock:
            for point, hooks in self._hooks.items():
                kept = [h for h in hooks if h.id != hook_id]
                if len(kept) != len(hooks):
                    self._hooks[point] = kept
                    return True
        return False

    def hooks(self, point: str | None = None) -> list[RegisteredHook]:
        """Registered hooks (of one point), in the order they run."""
        if point is not None:
            return list(self._hooks.get(check_point(point), []))
        return [h for p in HOOK_POINTS for h in self._hooks.get(p, [])]

    def run(self, point: str, component: str, data: Any, correlation_id: str | None = None) -> Any:
        """Run the hooks of `point` on `data`, highest priority first, and return the data as
        the last `modified` result left it. A `cancel` stops the chain and raises
        HookCancelled; an error inside a callback is recorded and the chain goes on."""
        hooks = self._hooks.get(check_point(point))
        if not hooks:
            return data
        session_id = self.session_source()
        for hook in list(hooks):
            context = {
                "point": point,
                "component": component,
                "data": data,
                "correlation_id": correlation_id,
            }
            started = self._started_at()
            clock = time.perf_counter()
            result, error, new_data, reason = "continue", None, data, ""
            try:
                result, new_data, reason = interpret(hook.callback(context), data)
            except ScriptStopping:
                raise  # an interrupt or timeout stops the operation, not just this hook
            except InvalidArgument as exc:
                result, error = "error", str(exc)
            except Exception as exc:
                result, error = "error", f"{type(exc).__name__}: {exc}"
                logger.info("hook %s at %s failed: %s", hook.id, point, error)
            self._record(
                hook,
                context,
                session_id,
                started,
                (time.perf_counter() - clock) * 1000,
                result,
                error,
            )
            if result == "modified":
                data = new_data
            elif result == "cancel":
                raise HookCancelled(point, reason)
        return data

    def history(
        self,
        point: str | None = None,
        correlation_id: str | None = None,
        session_id: str | None = None,
        limit: int | None = None,
    ) -> list[HookExecution]:
        """Recorded executions matching every given filter, newest first."""
        if point is not None:
            check_point(point)
        return self._history().query(point, correlation_id, session_id, limit)

    def _started_at(self) -> datetime:
        # Strictly increasing within the runtime, so history order is execution order even when
        # two callbacks start within the clock's resolution.
        now = datetime.now(UTC)
        with self._lock:
            last = self._last_started
            if last is not None and now <= last:
                now = last + timedelta(microseconds=1)
            self._last_started = now
        return now

    def _record(
        self,
        hook: RegisteredHook,
        context: dict[str, Any],
        session_id: str | None,
        started: datetime,
        duration_ms: float,
        result: str,
        error: str | None,
    ) -> None:
        from llmspell.storage.components.hooks import HookExecution

        self._history().record(
            HookExecution(
                execution_id=new_id(),
                hook_id=hook.id,
                hook_name=hook.name,
                point=hook.point,
                component=str(context["component"]),
                correlation_id=context["correlation_id"],
                session_id=session_id,
                started_at=started,
                # microseconds are all a timer of a script hook can tell apart
                duration_ms=round(duration_ms, 3),
                result=result,
                error=error,
                context=json_safe(context),
            )
        )


def interpret(outcome: Any, data: Any) -> tuple[str, Any, str]:
    """(result, data, cancel reason) for what a callback returned; InvalidArgument when it
    returned something a hook may not."""
    if outcome is None or outcome == "continue":
        return "continue", data, ""
    if outcome in ("skip", "skipped"):
        return "skip", data, ""
    if outcome == "cancel":
        return "cancel", data, "no reason given"
    if isinstance(outcome, dict):
        kind = outcome.get("type")
        if kind in ("modified", "replace") and "data" in outcome:
            return "modified", outcome["data"], ""
        if kind == "cancel":
            reason = outcome.get("reason")
            return "cancel", data, str(reason) if reason is not None else "no reason given"
        if isinstance(kind, str) and kind in UNSUPPORTED_RESULTS:
            raise InvalidArgument(
                f"hook callback returned type={kind!r}: {UNSUPPORTED_RESULTS[kind]}; it may "
                f"return {CALLBACK_RESULTS}"
            )
    raise InvalidArgument(
        f"hook callback returned {json.dumps(json_safe(outcome))}; it may return {CALLBACK_RESULTS}"
    )


def json_safe(value: Any) -> Any:
    """`value` with everything JSON cannot hold replaced by a description (for the record)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    return f"<{kind_of(value)}>"


def new_id() -> str:
    import uuid  # here: uuid imports `platform`, ~2 ms of every start (a run without hooks)

    return str(uuid.uuid4())
