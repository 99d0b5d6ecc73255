"""Replaying a session's recorded hook executions (`Session.replay` / `Session.can_replay`).

The unit is one recorded execution (one callback run while the session was current), replayed
oldest first. The hook a recording is replayed against is, in this order: the same registration
(same hook id, this runtime), the hooks registered under the recorded hook's name, or else every
hook now registered at the recorded point (a later process re-registers its hooks anonymously).

- `exact` calls those hooks with the recorded context (`{point, component, data,
  correlation_id}`); a recording is successful when every call returns a valid outcome
  (continue, skip, modified, cancel) without raising.
- `modified` is `exact` with changes applied to each recorded context first: a dotted path
  (`data.temperature`, or `params.temperature`, read as under `data` when its first part is not
  a key of the context) set to a value; recordings whose context lacks the path's parents
  get the missing tables.
- `simulate` calls nothing: a recording is successful when its point and context are well
  formed and some hook would be called for it.
- `debug` is `exact` that also returns a trace: per hook called, the recording, the context
  it was given, what it returned now and what was recorded.

Either way a recording with no hook to replay against has failed. Replays are not recorded in
hook history (they re-run what happened; they are not new executions of the session) and the
operations the hooks once guarded are not repeated.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, ScriptStopping
from llmspell.runtime.hooks import HOOK_POINTS, HookRegistry, RegisteredHook, interpret

if TYPE_CHECKING:
    from llmspell.storage.components.hooks import HookExecution

REPLAY_MODES = ("exact", "modified", "simulate", "debug")
CONTEXT_KEYS = ("point", "component", "data", "correlation_id")


@dataclass(frozen=True)
class Modification:
    """Set the value at a dotted `path` of each recorded context before it is replayed."""

    path: str
    value: Any

    def apply(self, context: dict[str, Any]) -> dict[str, Any]:
        """A copy of `context` with the change (parents made as tables where missing)."""
        parts = self.path.split(".")
        if parts[0] not in CONTEXT_KEYS:
            parts = ["data", *parts]
        out = copy.deepcopy(context)
        target = out
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = target[part] = {}
            target = child
        target[parts[-1]] = copy.deepcopy(self.value)
        return out


@dataclass(frozen=True)
class ReplayMetadata:
    """A session's recordings as a replay sees them."""

    session_id: str
    recorded: int
    points: list[str]
    first_recorded_at: datetime | None
    last_recorded_at: datetime | None
    can_replay: bool


@dataclass
class ReplaySummary:
    """What a replay did: `hooks_replayed` recordings, of which `successful` and `failed`."""

    hooks_replayed: int = 0
    successful: int = 0
    failed: int = 0
    duration_ms: float = 0.0
    errors: list[dict[str, Any]] = field(default_factory=list)  # {execution_id, point, error}
    timed_out: bool = False
    # mode debug: {execution_id, point, hook_id, context, result, recorded_result, error}
    trace: list[dict[str, Any]] = field(default_factory=list)


def recorded_executions(hooks: HookRegistry, session_id: str) -> list[HookExecution]:
    """The session's recorded executions, oldest first."""
    return list(reversed(hooks.history(session_id=session_id)))


def replay(
    hooks: HookRegistry,
    session_id: str,
    mode: str = "exact",
    stop_on_error: bool = False,
    compare_results: bool = False,
    timeout_s: float | None = None,
    modifications: tuple[Modification, ...] = (),
) -> ReplaySummary:
    """Replay the session's recordings (see the module doc); `stop_on_error` stops at the first
    failed one; `compare_results` fails a recording whose hooks now return another result
    (continue, skip, modified, cancel) than the recorded one; `timeout_s` stops the replay
    before the next recording once that many seconds have passed; `modifications` are what
    mode `modified` changes (and are only accepted with it)."""
    if mode not in REPLAY_MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(REPLAY_MODES)}, got {mode!r}")
    if modifications and mode != "modified":
        raise InvalidArgument(f"modifications are only applied in mode 'modified', not {mode!r}")
    started = time.perf_counter()
    summary = ReplaySummary()
    for execution in recorded_executions(hooks, session_id):
        if timeout_s is not None and time.perf_counter() - started > timeout_s:
            summary.timed_out = True
            break
        summary.hooks_replayed += 1
        error = _check(execution, hooks)
        if error is None and mode != "simulate":
            trace = summary.trace if mode == "debug" else None
            error = _rerun(execution, hooks, compare_results, modifications, trace)
        if error is None:
            summary.successful += 1
            continue
        summary.failed += 1
        summary.errors.append(
            {"execution_id": execution.execution_id, "point": execution.point, "error": error}
        )
        if stop_on_error:
            break
    summary.duration_ms = round((time.perf_counter() - started) * 1000, 3)
    return summary


def metadata(hooks: HookRegistry, session_id: str) -> ReplayMetadata:
    """The session's recordings: how many, at which points, when, and whether all replay."""
    executions = recorded_executions(hooks, session_id)
    return ReplayMetadata(
        session_id=session_id,
        recorded=len(executions),
        points=sorted({e.point for e in executions}),
        first_recorded_at=executions[0].started_at if executions else None,
        last_recorded_at=executions[-1].started_at if executions else None,
        can_replay=bool(executions) and all(_check(e, hooks) is None for e in executions),
    )


def can_replay(hooks: HookRegistry, session_id: str) -> bool:
    """Whether the session has recordings and every one has a hook to be replayed against."""
    executions = recorded_executions(hooks, session_id)
    return bool(executions) and all(_check(e, hooks) is None for e in executions)


def _targets(execution: HookExecution, hooks: HookRegistry) -> list[RegisteredHook]:
    registered = hooks.hooks(execution.point)
    same = [h for h in registered if h.id == execution.hook_id]
    if not same and execution.hook_name is not None:
        same = [h for h in registered if h.name == execution.hook_name]
    return same or registered


def _check(execution: HookExecution, hooks: HookRegistry) -> str | None:
    """Why the recording cannot be replayed, or None."""
    if execution.point not in HOOK_POINTS:
        return f"recorded point {execution.point!r} is not a hook point"
    context = execution.context
    if not isinstance(context, dict) or not {"point", "component", "data"} <= set(context):
        return "the recorded context lacks point, component or data"
    if context["point"] != execution.point:
        return f"the recorded context is for {context['point']!r}, not {execution.point!r}"
    if not _targets(execution, hooks):
        return f"no hook is registered at {execution.point} now"
    return None


def _rerun(
    execution: HookExecution,
    hooks: HookRegistry,
    compare: bool = False,
    modifications: tuple[Modification, ...] = (),
    trace: list[dict[str, Any]] | None = None,
) -> str | None:
    for hook in _targets(execution, hooks):
        context = {**execution.context, "correlation_id": execution.correlation_id}
        for modification in modifications:
            context = modification.apply(context)
        step: dict[str, Any] = {
            "execution_id": execution.execution_id,
            "point": execution.point,
            "hook_id": hook.id,
            "context": context,
            "recorded_result": execution.result,
            "result": None,
            "error": None,
        }
        if trace is not None:
            trace.append(step)
        try:
            result, _, _ = interpret(hook.callback(context), context["data"])
        except ScriptStopping:
            raise  # an interrupt or timeout stops the replay, not just this recording
        except Exception as exc:
            step["error"] = f"hook {hook.id}: {type(exc).__name__}: {exc}"
            return str(step["error"])
        step["result"] = result
        if compare and result != execution.result:
            return f"hook {hook.id}: returned {result}, recorded {execution.result}"
    return None
