"""Session hooks: SessionStart on create and SessionEnd on complete/fail (cancel, modify, errors),
hook executions recording the runtime's current session, and Session.replay / can_replay over
that record — with Python and Lua callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error

from llmspell.runtime import ScriptRuntime
from llmspell.runtime.hooks import HookRegistry


def hooks_of(rt: ScriptRuntime) -> HookRegistry:
    return rt.infrastructure.get(HookRegistry)


def recorder(seen: list[dict[str, Any]], outcome: Any = None) -> Any:
    def callback(context: dict[str, Any]) -> Any:
        seen.append(context)
        return outcome

    return callback


def create(rt: ScriptRuntime, **options: Any) -> str:
    session_id: str = call(rt, "Session.create", options)
    return session_id


def test_session_start_runs_before_a_session_is_stored(rt: ScriptRuntime) -> None:
    seen: list[dict[str, Any]] = []
    hooks_of(rt).register("SessionStart", recorder(seen))
    session_id = create(rt, name="n", tags=["t"])
    [context] = seen
    assert context["point"] == "SessionStart" and context["component"] == "session"
    assert context["correlation_id"] == session_id
    assert context["data"] == {
        "id": session_id,
        "parent_id": None,
        "name": "n",
        "description": None,
        "tags": ["t"],
        "metadata": {},
    }
    [execution] = hooks_of(rt).history(correlation_id=session_id)
    assert (execution.point, execution.result) == ("SessionStart", "continue")


def test_a_cancelling_session_start_hook_stops_create(rt: ScriptRuntime) -> None:
    hooks_of(rt).register("SessionStart", lambda ctx: {"type": "cancel", "reason": "quota"})
    error = call_error(rt, "Session.create", {"name": "x"})
    assert error.evalue == "Session.create: cancelled by hook: quota"
    assert as_list(call(rt, "Session.list")) == []


def test_a_session_start_hook_may_change_name_tags_and_metadata(lua: ScriptRuntime) -> None:
    callback = lua.execute(
        """return function(ctx)
             local d = ctx.data
             d.name = d.name .. "!"
             d.tags = {"added"}
             d.metadata = {by = "hook"}
             return {type = "modified", data = d}
           end"""
    ).value
    hooks_of(lua).register("SessionStart", callback)
    record = call(lua, "Session.get", create(lua, name="plain"))
    assert (record["name"], record["tags"], record["metadata"]) == (
        "plain!",
        ["added"],
        {"by": "hook"},
    )


def test_a_session_start_hook_may_not_change_the_id(rt: ScriptRuntime) -> None:
    def rename(ctx: dict[str, Any]) -> Any:
        return {"type": "modified", "data": {**ctx["data"], "id": "mine"}}

    hooks_of(rt).register("SessionStart", rename)
    error = call_error(rt, "Session.create")
    assert "may change name, description, tags, metadata, not id" in error.evalue
    assert as_list(call(rt, "Session.list")) == []


def test_session_end_runs_on_complete_and_fail_only(rt: ScriptRuntime) -> None:
    seen: list[dict[str, Any]] = []
    hooks_of(rt).register("SessionEnd", recorder(seen))
    done = create(rt)
    call(rt, "Session.suspend", done)
    call(rt, "Session.resume", done)
    call(rt, "Session.complete", done, "ok")
    call(rt, "Session.archive", done)
    failed = create(rt)
    call(rt, "Session.fail", failed, "boom")
    assert [(c["data"]["id"], c["data"]["previous_status"], c["data"]["status"]) for c in seen] == [
        (done, "active", "completed"),
        (failed, "active", "failed"),
    ]
    assert seen[0]["data"]["summary"] == "ok" and seen[1]["data"]["reason"] == "boom"


def test_a_cancelling_session_end_hook_leaves_the_status(rt: ScriptRuntime) -> None:
    hooks_of(rt).register("SessionEnd", lambda ctx: {"type": "cancel", "reason": "not yet"})
    session_id = create(rt)
    error = call_error(rt, "Session.complete", session_id)
    assert error.evalue == "Session.complete: cancelled by hook: not yet"
    assert call(rt, "Session.get", session_id)["status"] == "active"


def test_a_session_end_hook_may_rewrite_the_summary(rt: ScriptRuntime) -> None:
    def redact(ctx: dict[str, Any]) -> Any:
        return {"type": "modified", "data": {**ctx["data"], "summary": "[redacted]"}}

    hooks_of(rt).register("SessionEnd", redact)
    session_id = create(rt)
    call(rt, "Session.complete", session_id, "secret details")
    assert call(rt, "Session.get", session_id)["metadata"] == {"summary": "[redacted]"}


def test_an_error_in_a_session_hook_is_recorded_and_create_goes_on(rt: ScriptRuntime) -> None:
    def broken(ctx: dict[str, Any]) -> Any:
        raise RuntimeError("hook bug")

    hooks_of(rt).register("SessionStart", broken)
    session_id = create(rt)
    assert call(rt, "Session.get", session_id)["status"] == "active"
    [execution] = hooks_of(rt).history(correlation_id=session_id)
    assert execution.result == "error" and "hook bug" in (execution.error or "")


def test_hook_executions_record_the_current_session(rt: ScriptRuntime) -> None:
    hooks = hooks_of(rt)
    hooks.register("SessionStart", lambda ctx: None)
    before = create(rt)
    current = create(rt)
    call(rt, "Session.set_current", current)
    during = create(rt)
    assert [e.correlation_id for e in hooks.history(session_id=current)] == [during]
    assert hooks.history(correlation_id=before)[0].session_id is None


# --- replay ---------------------------------------------------------------------------------


@pytest.fixture
def recorded(rt: ScriptRuntime) -> tuple[ScriptRuntime, str, list[dict[str, Any]]]:
    """A current session during which three hook executions were recorded."""
    seen: list[dict[str, Any]] = []
    hooks_of(rt).register("SessionStart", recorder(seen))
    hooks_of(rt).register("SessionEnd", recorder(seen))
    work = create(rt, name="work")
    call(rt, "Session.set_current", work)
    first = create(rt, name="first")
    create(rt, name="second")
    call(rt, "Session.complete", first, "done")
    assert len(seen) == 4
    seen.clear()
    return rt, work, seen


def test_exact_replay_reruns_each_recording_with_its_context(
    recorded: tuple[ScriptRuntime, str, list[dict[str, Any]]],
) -> None:
    rt, work, seen = recorded
    history_before = len(hooks_of(rt).history())
    summary = call(rt, "Session.replay", work, {"mode": "exact"})
    assert {k: summary[k] for k in ("hooks_replayed", "successful", "failed")} == {
        "hooks_replayed": 3,
        "successful": 3,
        "failed": 0,
    }
    assert summary["duration_ms"] >= 0 and as_list(summary["errors"]) == []
    assert [(c["point"], c["data"].get("name")) for c in seen] == [
        ("SessionStart", "first"),
        ("SessionStart", "second"),
        ("SessionEnd", "first"),
    ]
    assert len(hooks_of(rt).history()) == history_before, "replays are not recorded"
    assert len(as_list(call(rt, "Session.list"))) == 3, "no guarded operation is repeated"


def test_simulate_replay_calls_nothing(
    recorded: tuple[ScriptRuntime, str, list[dict[str, Any]]],
) -> None:
    rt, work, seen = recorded
    summary = call(rt, "Session.replay", work, {"mode": "simulate"})
    assert (summary["hooks_replayed"], summary["successful"], summary["failed"]) == (3, 3, 0)
    assert seen == []


def test_a_hook_failing_on_replay_is_counted_and_stop_on_error_stops(
    recorded: tuple[ScriptRuntime, str, list[dict[str, Any]]],
) -> None:
    rt, work, _ = recorded
    hooks = hooks_of(rt)
    for hook in hooks.hooks("SessionStart"):
        hooks.unregister(hook.id)

    def broken(ctx: dict[str, Any]) -> Any:
        raise RuntimeError("changed behaviour")

    hooks.register("SessionStart", broken)
    summary = call(rt, "Session.replay", work)
    assert (summary["hooks_replayed"], summary["successful"], summary["failed"]) == (3, 1, 2)
    assert "changed behaviour" in summary["errors"][0]["error"]
    stopped = call(rt, "Session.replay", work, {"stop_on_error": True})
    assert (stopped["hooks_replayed"], stopped["successful"], stopped["failed"]) == (1, 0, 1)


def test_can_replay_needs_recordings_and_a_hook_for_each(
    recorded: tuple[ScriptRuntime, str, list[dict[str, Any]]],
) -> None:
    rt, work, _ = recorded
    assert call(rt, "Session.can_replay", work) is True
    call(rt, "Session.set_current", None)
    assert call(rt, "Session.can_replay", create(rt)) is False, "nothing recorded"
    hooks = hooks_of(rt)
    for hook in hooks.hooks("SessionEnd"):
        hooks.unregister(hook.id)
    assert call(rt, "Session.can_replay", work) is False
    summary = call(rt, "Session.replay", work, {"mode": "simulate"})
    assert (summary["successful"], summary["failed"]) == (2, 1)
    assert summary["errors"][0]["error"] == "no hook is registered at SessionEnd now"


def test_a_later_process_replays_against_the_hooks_it_registered(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    overrides = {"storage__backend": "sqlite", "storage__path": str(tmp_path / "h.db")}
    earlier = make_runtime("lua", **overrides)
    hooks_of(earlier).register(
        "SessionStart", earlier.execute("return function(ctx) return nil end").value
    )
    work = create(earlier)
    call(earlier, "Session.set_current", work)
    create(earlier, name="made earlier")
    earlier.close()

    later = make_runtime("lua", **overrides)
    names = later.execute("seen = {}; return function(ctx) seen[#seen + 1] = ctx.data.name end")
    hooks_of(later).register("SessionStart", names.value)
    summary = call(later, "Session.replay", work)
    assert (summary["hooks_replayed"], summary["successful"]) == (1, 1)
    assert later.execute("return seen").value == ["made earlier"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "fast"}, "mode must be one of exact, modified, simulate, debug, got 'fast'"),
        ({"stop_on_error": "yes"}, "stop_on_error must be a boolean"),
        ({"speed": 2}, "unknown option 'speed'"),
    ],
)
def test_bad_replay_options_are_refused(
    rt: ScriptRuntime, options: dict[str, Any], message: str
) -> None:
    error = call_error(rt, "Session.replay", create(rt), options)
    assert error.evalue.startswith("Session.replay: ") and message in error.evalue
