"""The Event global through both engines: subscriptions with patterns, receive that really
waits (and stops on interrupt), callbacks on publish, the persisted log, stats and retention."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import MakeRuntime, as_list, call, call_error, error_of

from llmspell.runtime import ScriptError, ScriptRuntime
from llmspell.runtime.events import EventBus

RFC3339_UTC_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

ACCEPTANCE_LUA = """
local sub = Event.subscribe("order.*")
Event.publish("order.created", {id = 1})
Event.publish("user.login", {id = 2})
Event.publish("order.shipped", {id = 1})
local e1 = Event.receive(sub, 100)
assert(e1.event_type == "order.created" and e1.data.id == 1)
assert(Event.receive(sub, 100).event_type == "order.shipped")
assert(Event.receive(sub, 10) == nil)
local seen = {}
Event.on("alert.*", function(ev) seen[#seen + 1] = ev.event_type end)
Event.publish("alert.fire", {level = "high"})
assert(seen[1] == "alert.fire", "callbacks run")
local logged = Event.query{pattern = "order.*"}
assert(#logged == 2 and logged[1].sequence < logged[2].sequence, "persisted log in order")
return "PASS"
"""

ACCEPTANCE_PYTHON = """
sub = Event.subscribe("order.*")
Event.publish("order.created", {"id": 1})
Event.publish("user.login", {"id": 2})
Event.publish("order.shipped", {"id": 1})
e1 = Event.receive(sub, 100)
assert e1["event_type"] == "order.created" and e1["data"]["id"] == 1
assert Event.receive(sub, 100)["event_type"] == "order.shipped"
assert Event.receive(sub, 10) is None
seen = []
Event.on("alert.*", lambda ev: seen.append(ev["event_type"]))
Event.publish("alert.fire", {"level": "high"})
assert seen == ["alert.fire"], "callbacks run"
logged = Event.query({"pattern": "order.*"})
assert len(logged) == 2 and logged[0]["sequence"] < logged[1]["sequence"]
"PASS"
"""


def test_the_event_lines_of_the_acceptance_script_pass(rt: ScriptRuntime) -> None:
    code = ACCEPTANCE_LUA if rt.engine_name == "lua" else ACCEPTANCE_PYTHON
    assert rt.execute(code).value == "PASS"


def test_a_received_event_has_the_documented_fields(rt: ScriptRuntime) -> None:
    sub = call(rt, "Event.subscribe", "*")
    event_id = call(rt, "Event.publish", "order.created", {"id": 7}, {"correlation_id": "req-1"})
    event = call(rt, "Event.receive", sub)
    assert set(event) == {
        "id",
        "event_type",
        "topic",
        "data",
        "timestamp",
        "sequence",
        "correlation_id",
    }
    assert event["id"] == event_id
    assert (event["event_type"], event["data"], event["correlation_id"]) == (
        "order.created",
        {"id": 7},
        "req-1",
    )
    assert RFC3339_UTC_MICROS.match(event["timestamp"])
    assert event["sequence"] == 1


def test_receive_really_waits_up_to_the_timeout(rt: ScriptRuntime) -> None:
    sub = call(rt, "Event.subscribe", "x.*")
    started = time.monotonic()
    assert call(rt, "Event.receive", sub, 300) is None
    assert time.monotonic() - started >= 0.29
    started = time.monotonic()
    assert call(rt, "Event.receive", sub) is None, "the default timeout does not wait"
    assert time.monotonic() - started < 1.0  # a call, not a wait (wide: a busy machine is slow)


def test_receive_returns_as_soon_as_another_thread_publishes(rt: ScriptRuntime) -> None:
    sub = call(rt, "Event.subscribe", "job.*")
    bus = rt.infrastructure.get(EventBus)
    timer = threading.Timer(0.2, lambda: bus.publish("job.done", {"ok": True}))
    timer.start()
    started = time.monotonic()
    event = call(rt, "Event.receive", sub, 20_000)
    timer.join()
    assert event is not None and event["data"] == {"ok": True}
    assert time.monotonic() - started < 5


def _interrupted_after(
    rt: ScriptRuntime, code: str, delay: float = 0.3
) -> tuple[ScriptError, float]:
    timer = threading.Timer(delay, rt.interrupt)
    timer.start()
    started = time.monotonic()
    try:
        error = error_of(rt, code)
    finally:
        timer.cancel()
    return error, time.monotonic() - started


def test_an_interrupt_stops_a_long_receive(rt: ScriptRuntime) -> None:
    sub = call(rt, "Event.subscribe", "never.*")
    code = (
        f'return Event.receive("{sub}", 60000)'
        if rt.engine_name == "lua"
        else f'Event.receive("{sub}", 60000)'
    )
    error, elapsed = _interrupted_after(rt, code)
    assert error.ename == "KeyboardInterrupt"
    assert elapsed < 5
    assert call(rt, "Event.publish", "after.interrupt", None), "the runtime stays usable"


def test_pcall_cannot_swallow_an_interrupt_of_a_receive(lua: ScriptRuntime) -> None:
    sub = call(lua, "Event.subscribe", "never.*")
    code = f'local ok = pcall(Event.receive, "{sub}", 60000)\nreturn "swallowed"'
    error, elapsed = _interrupted_after(lua, code)
    assert error.ename == "KeyboardInterrupt" and elapsed < 5


def test_the_time_limit_stops_a_long_receive(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua", engines__lua__timeout_s=0.3)
    sub = call(rt, "Event.subscribe", "never.*")
    started = time.monotonic()
    error = error_of(rt, f'return Event.receive("{sub}", 60000)')
    assert error.ename == "TimeoutError"
    assert time.monotonic() - started < 5


def test_callbacks_run_synchronously_in_subscription_order(lua: ScriptRuntime) -> None:
    lua.execute(
        "order = {}\n"
        "Event.on('a.*', function(ev) order[#order + 1] = 'first:' .. ev.data end)\n"
        "Event.on('*', function(ev) order[#order + 1] = 'second:' .. ev.data end)\n"
        "Event.publish('a.x', 'one')\n"
        "seen_before_return = #order"
    )
    assert lua.execute("return seen_before_return").value == 2
    assert lua.execute("return order").value == ["first:one", "second:one"]


def test_a_failing_callback_does_not_fail_the_publish_and_is_counted(rt: ScriptRuntime) -> None:
    if rt.engine_name == "lua":
        rt.execute("Event.on('boom', function(ev) error('bad callback') end)")
    else:
        rt.execute("def bad(ev):\n    raise ValueError('bad callback')\nEvent.on('boom', bad)")
    assert call(rt, "Event.publish", "boom", 1)
    [sub] = call(rt, "Event.list_subscriptions")
    assert sub["kind"] == "callback" and sub["errors"] == 1
    assert "bad callback" in sub["last_error"]
    assert [e["event_type"] for e in call(rt, "Event.query")] == ["boom"]


def test_a_callback_registered_on_the_script_thread_never_runs_on_another(
    lua: ScriptRuntime,
) -> None:
    lua.execute("got = {}\nEvent.on('bg.*', function(ev) got[#got + 1] = ev.data end)")
    bus = lua.infrastructure.get(EventBus)
    worker = threading.Thread(target=bus.publish, args=("bg.done", "from a worker"))
    worker.start()
    worker.join()
    assert as_list(lua.execute("return got").value) == [], "not run on the worker thread"
    lua.execute("Event.publish('other', nil)")
    assert lua.execute("return got").value == ["from a worker"], "run at the next bus call"


def test_unsubscribe_and_list_subscriptions(rt: ScriptRuntime) -> None:
    first = call(rt, "Event.subscribe", "a.*")
    second = call(rt, "Event.subscribe", "b")
    call(rt, "Event.publish", "a.1", None)
    subs = call(rt, "Event.list_subscriptions")
    assert [(s["id"], s["pattern"], s["kind"], s["queued"]) for s in subs] == [
        (first, "a.*", "queue", 1),
        (second, "b", "queue", 0),
    ]
    assert call(rt, "Event.unsubscribe", first) is True
    assert call(rt, "Event.unsubscribe", first) is False
    assert [s["id"] for s in call(rt, "Event.list_subscriptions")] == [second]
    error = call_error(rt, "Event.receive", first)
    assert f"Event.receive: no subscription '{first}'" in error.evalue


def test_a_full_queue_drops_the_oldest_and_counts_it(make_runtime: MakeRuntime) -> None:
    rt = make_runtime("lua", events__queue_size=2)
    sub = call(rt, "Event.subscribe", "*")
    for i in range(3):
        call(rt, "Event.publish", "n", i)
    assert call(rt, "Event.receive", sub)["data"] == 1
    assert call(rt, "Event.receive", sub)["data"] == 2
    assert call(rt, "Event.get_stats")["dropped"] == 1


def test_an_event_past_its_ttl_is_neither_received_nor_queried(rt: ScriptRuntime) -> None:
    sub = call(rt, "Event.subscribe", "*")
    call(rt, "Event.publish", "short", 1, {"ttl_s": 0.05})
    call(rt, "Event.publish", "long", 2, {"ttl_s": 3600})
    time.sleep(0.1)
    assert call(rt, "Event.receive", sub)["event_type"] == "long"
    assert [e["event_type"] for e in call(rt, "Event.query")] == ["long"]


def test_the_configured_default_ttl_applies_when_publish_gives_none(
    make_runtime: MakeRuntime,
) -> None:
    rt = make_runtime("lua", events__default_ttl_s=0.05)
    call(rt, "Event.publish", "short", 1)
    call(rt, "Event.publish", "kept", 2, {"ttl_s": 0})
    time.sleep(0.1)
    assert [e["event_type"] for e in call(rt, "Event.query")] == ["kept"]


def test_query_filters_by_type_pattern_correlation_time_and_limit(rt: ScriptRuntime) -> None:
    for kind, corr in [("order.created", "c1"), ("order.shipped", "c2"), ("user.login", "c1")]:
        call(rt, "Event.publish", kind, None, {"correlation_id": corr})
    events = call(rt, "Event.query")
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert [e["event_type"] for e in call(rt, "Event.query", {"type": "user.login"})] == [
        "user.login"
    ]
    assert len(call(rt, "Event.query", {"pattern": "order.*"})) == 2
    assert [e["sequence"] for e in call(rt, "Event.query", {"correlation_id": "c1"})] == [1, 3]
    assert [e["sequence"] for e in call(rt, "Event.query", {"limit": 2})] == [1, 2]
    second = events[1]["timestamp"]
    assert [e["sequence"] for e in call(rt, "Event.query", {"since": second})] == [2, 3]
    assert [e["sequence"] for e in call(rt, "Event.query", {"until": second})] == [1, 2]
    assert as_list(call(rt, "Event.query", {"since": 4_000_000_000})) == [], "Unix seconds"


def test_get_stats_counts_by_type_and_subscriptions(rt: ScriptRuntime) -> None:
    call(rt, "Event.subscribe", "a.*")
    for kind in ["a.x", "a.x", "b"]:
        call(rt, "Event.publish", kind, None)
    stats = call(rt, "Event.get_stats")
    assert stats["by_type"] == {"a.x": 2, "b": 1}
    assert (stats["total"], stats["last_sequence"], stats["published"]) == (3, 3, 3)
    assert (stats["subscriptions"], stats["callbacks"], stats["queued"]) == (1, 0, 2)


def test_prune_removes_events_before_a_time_and_expired_ones(rt: ScriptRuntime) -> None:
    call(rt, "Event.publish", "old", None)
    time.sleep(0.01)
    cutoff = time.time()  # Unix seconds: after "old", before the next
    time.sleep(0.01)
    call(rt, "Event.publish", "expired", None, {"ttl_s": 0.01})
    time.sleep(0.05)
    assert call(rt, "Event.prune") == {"deleted": 1, "partitions_dropped": 0}
    assert call(rt, "Event.prune", {"before": cutoff})["deleted"] == 1
    assert as_list(call(rt, "Event.query")) == []


@pytest.mark.parametrize(
    ("function", "args", "message"),
    [
        ("Event.publish", ["a*", None], "Event.publish: event type must not contain '*'"),
        ("Event.publish", ["", None], "Event.publish: event_type must be a non-empty string"),
        ("Event.publish", ["x", None, {"ttl": 1}], "unknown option 'ttl'; allowed: correlation_id"),
        ("Event.publish", ["x", None, {"ttl_s": -1}], "ttl_s must be a number of seconds from 0"),
        ("Event.publish", ["x", None, {"ttl_s": "1"}], "ttl_s must be a number of seconds"),
        ("Event.subscribe", ["[z-a]"], "Event.subscribe: pattern is not a valid glob"),
        ("Event.receive", ["sub-missing"], "Event.receive: no subscription 'sub-missing'"),
        ("Event.receive", ["sub-x", -5], "Event.receive: timeout_ms must be >= 0"),
        ("Event.query", [{"kind": "x"}], "Event.query: unknown option 'kind'; allowed: corr"),
        ("Event.query", [{"since": "yesterday"}], "Event.query: since must be an RFC 3339"),
        ("Event.query", [{"limit": -1}], "Event.query: limit must be >= 0"),
        ("Event.prune", [{"after": 1}], "Event.prune: unknown option 'after'; allowed: before"),
    ],
)
def test_bad_arguments_raise_naming_the_function(
    rt: ScriptRuntime, function: str, args: list[Any], message: str
) -> None:
    assert message in call_error(rt, function, *args).evalue


def test_receive_on_a_callback_subscription_is_refused(lua: ScriptRuntime) -> None:
    sub = lua.execute("return Event.on('x', function() end)").value
    error = call_error(lua, "Event.receive", sub)
    assert "delivers to a callback (Event.on)" in error.evalue


def test_data_that_is_not_json_is_refused(lua: ScriptRuntime) -> None:
    error = error_of(lua, "Event.publish('x', {f = print})")
    assert error.evalue.startswith("Event.publish: data.f must be data")


def test_with_events_disabled_every_function_raises_disabled_in_config(
    make_runtime: MakeRuntime, engine: str
) -> None:
    rt = make_runtime(engine, events__enabled=False)
    for function, args in [
        ("Event.publish", ["x", None]),
        ("Event.subscribe", ["*"]),
        ("Event.query", []),
        ("Event.get_stats", []),
        ("Event.list_subscriptions", []),
    ]:
        error = call_error(rt, function, *args)
        assert error.evalue == f"{function}: disabled in config (events.enabled = false)"


def test_the_log_outlives_the_runtime(make_runtime: MakeRuntime, isolated_env: Path) -> None:
    path = str(isolated_env / "events.db")
    first = make_runtime("lua", storage__backend="sqlite", storage__path=path)
    call(first, "Event.publish", "kept", {"n": 1})
    first.close()
    second = make_runtime("python", storage__backend="sqlite", storage__path=path)
    assert [e["data"] for e in call(second, "Event.query")] == [{"n": 1}]
    assert call(second, "Event.get_stats")["last_sequence"] == 1


def test_query_results_display_as_an_html_table_even_with_nil_fields(
    lua: ScriptRuntime,
) -> None:
    call(lua, "Event.publish", "with.corr", {"n": 1}, {"correlation_id": "c"})
    call(lua, "Event.publish", "without", None)
    bundle = lua.execute("Event.query{}").bundle
    html = bundle["text/html"]
    assert html.startswith(
        "<table><thead><tr><th>sequence</th><th>timestamp</th><th>event_type</th>"
        "<th>correlation_id</th><th>data</th><th>id</th></tr>"
    )
    assert html.count("<tr>") == 3
    assert "<td>without</td><td></td><td></td>" in html


def test_python_engine_query_results_display_as_an_html_table(py: ScriptRuntime) -> None:
    call(py, "Event.publish", "a", None)
    assert py.execute("Event.query()").bundle["text/html"].startswith("<table>")


def test_an_interrupt_stops_a_looping_callback_and_the_publish(lua: ScriptRuntime) -> None:
    lua.execute("Event.on('spin', function() while true do end end)")
    code = "Event.publish('spin', nil)\nafter_publish = true"
    error, elapsed = _interrupted_after(lua, code)
    assert error.ename == "KeyboardInterrupt" and elapsed < 5
    assert lua.execute("return after_publish").value is None, "the cell stopped at the publish"
    [sub] = call(lua, "Event.list_subscriptions")
    assert sub["errors"] == 0, "an interrupt is not a callback failure"
