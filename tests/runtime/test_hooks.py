"""The hook dispatcher: priority order, what a callback may return, errors that do not break the
guarded operation, cancel, and a record of every execution."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.runtime import Infrastructure, load_config
from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.hooks import HOOK_POINTS, HookCancelled, HookRegistry


@pytest.fixture
def infra() -> Any:
    infrastructure = Infrastructure.from_config(load_config(profile="memory", env={}).config)
    yield infrastructure
    infrastructure.close()


@pytest.fixture
def hooks(infra: Infrastructure) -> HookRegistry:
    return infra.get(HookRegistry)


def test_hooks_run_highest_priority_first_and_equal_priorities_in_registration_order(
    hooks: HookRegistry,
) -> None:
    order: list[str] = []
    for name, priority in [("n1", "normal"), ("low", "low"), ("top", "highest"), ("n2", "normal")]:
        hooks.register("BeforeToolExecution", lambda ctx, n=name: order.append(n), priority)
    hooks.register("BeforeToolExecution", lambda ctx: order.append("seven"), 7)
    hooks.run("BeforeToolExecution", "calculator", {})
    assert order == ["top", "seven", "n1", "n2", "low"]


def test_a_callback_gets_the_context_and_modified_data_flows_to_the_next_and_the_caller(
    hooks: HookRegistry,
) -> None:
    seen: list[dict[str, Any]] = []

    def double(ctx: dict[str, Any]) -> dict[str, Any]:
        seen.append(ctx)
        return {"type": "modified", "data": {"n": ctx["data"]["n"] * 2}}

    hooks.register("BeforeStateWrite", double, "high")
    hooks.register("BeforeStateWrite", double, "low")
    assert hooks.run("BeforeStateWrite", "state", {"n": 3}, correlation_id="c1") == {"n": 12}
    assert seen[0] == {
        "point": "BeforeStateWrite",
        "component": "state",
        "data": {"n": 3},
        "correlation_id": "c1",
    }
    assert seen[1]["data"] == {"n": 6}


def test_cancel_stops_the_chain_and_raises_with_the_reason(hooks: HookRegistry) -> None:
    later: list[int] = []
    hooks.register("BeforeToolExecution", lambda ctx: {"type": "cancel", "reason": "policy"}, 10)
    hooks.register("BeforeToolExecution", lambda ctx: later.append(1))
    with pytest.raises(HookCancelled, match=r"^cancelled by hook: policy$") as info:
        hooks.run("BeforeToolExecution", "calculator", {})
    assert info.value.point == "BeforeToolExecution" and later == []
    assert [e.result for e in hooks.history()] == ["cancel"]


def test_skip_and_continue_leave_the_data_and_the_chain_alone(hooks: HookRegistry) -> None:
    hooks.register("SessionStart", lambda ctx: "skip")
    hooks.register("SessionStart", lambda ctx: "continue")
    hooks.register("SessionStart", lambda ctx: None)
    assert hooks.run("SessionStart", "session", {"id": "s"}) == {"id": "s"}
    assert sorted(e.result for e in hooks.history()) == ["continue", "continue", "skip"]


def test_an_error_in_a_callback_is_recorded_and_the_operation_goes_on(hooks: HookRegistry) -> None:
    def broken(ctx: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    hooks.register("AfterToolExecution", broken, "high")
    hooks.register("AfterToolExecution", lambda ctx: {"type": "modified", "data": "after"})
    assert hooks.run("AfterToolExecution", "calculator", "result") == "after"
    errors = [e for e in hooks.history() if e.result == "error"]
    assert len(errors) == 1 and errors[0].error == "RuntimeError: boom"


@pytest.mark.parametrize("outcome", [42, "stop", {"type": "modified"}, {"type": "nope"}], ids=str)
def test_a_return_value_a_hook_may_not_give_is_recorded_as_an_error_naming_the_choices(
    hooks: HookRegistry, outcome: Any
) -> None:
    hooks.register("AfterCodeExecution", lambda ctx: outcome)
    assert hooks.run("AfterCodeExecution", "cell", 1) == 1
    [record] = hooks.history()
    assert record.result == "error"
    assert "{type='cancel', reason=...}" in (record.error or "")


def test_every_execution_is_recorded_with_point_correlation_session_and_duration(
    hooks: HookRegistry,
) -> None:
    hooks.session_source = lambda: "sess-9"
    hook = hooks.register("BeforeToolExecution", lambda ctx: None, name="audit")
    hooks.run("BeforeToolExecution", "calculator", {"input": b"\x00\xff"}, correlation_id="c")
    [record] = hooks.history(point="BeforeToolExecution", correlation_id="c", session_id="sess-9")
    assert record.hook_id == hook.id and record.hook_name == "audit"
    assert record.component == "calculator" and record.duration_ms >= 0
    assert record.context["data"] == {"input": "<2 bytes>"}, "binary data is described"


def test_history_order_is_execution_order(hooks: HookRegistry) -> None:
    hooks.register("SessionEnd", lambda ctx: None)
    for i in range(30):
        hooks.run("SessionEnd", "session", i)
    assert [e.context["data"] for e in hooks.history()] == list(range(29, -1, -1))


def test_unregister_removes_a_hook_and_hooks_lists_the_rest(hooks: HookRegistry) -> None:
    first = hooks.register("SessionStart", lambda ctx: None)
    second = hooks.register("SessionEnd", lambda ctx: None, "high")
    assert [h.id for h in hooks.hooks()] == [first.id, second.id]
    assert hooks.unregister(first.id) is True
    assert hooks.unregister(first.id) is False
    assert [h.id for h in hooks.hooks()] == [second.id]
    assert hooks.hooks("SessionStart") == []


def test_unknown_points_priorities_and_callbacks_are_refused_clearly(hooks: HookRegistry) -> None:
    with pytest.raises(InvalidArgument, match="unknown hook point 'Nope'; valid points: Before"):
        hooks.register("Nope", lambda ctx: None)
    with pytest.raises(InvalidArgument, match="priority must be one of highest, high"):
        hooks.register("SessionStart", lambda ctx: None, "urgent")
    with pytest.raises(InvalidArgument, match="callback must be a function, got integer"):
        hooks.register("SessionStart", 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="unknown hook point"):
        hooks.run("Nope", "x", None)
    assert len(HOOK_POINTS) == 18  # with SystemShutdown


def test_a_point_without_hooks_never_opens_storage(infra: Infrastructure) -> None:
    hooks = infra.get(HookRegistry)
    assert hooks.run("BeforeCodeExecution", "cell", "code") == "code"
    assert infra._storage is None
