"""`Event` as the rs-llmspell v0.13.1 Lua API appendix documents it: every function is there,
takes the documented arguments (the appendix's examples run as written) and returns the
documented fields; see docs/reference/compatibility.md."""

from __future__ import annotations

import pytest
from compat_helpers import run

from llmspell.runtime import ScriptError, ScriptRuntime

APPENDIX_FUNCTIONS = [
    "publish",
    "subscribe",
    "receive",
    "unsubscribe",
    "list_subscriptions",
    "get_stats",
]


def test_every_appendix_function_is_a_function(lua: ScriptRuntime) -> None:
    for name in APPENDIX_FUNCTIONS:
        assert run(lua, f"return type(Event.{name})") == "function", name


def test_publish_returns_a_true_value(lua: ScriptRuntime) -> None:
    # The appendix calls the result `success`; llmspell returns the event id, which is truthy.
    ok = run(
        lua,
        """
        local success = Event.publish("user.login", {user_id = "123", timestamp = os.time()})
        return success and true or false
        """,
    )
    assert ok is True


def test_subscribe_receive_unsubscribe_as_the_appendix_writes_them(lua: ScriptRuntime) -> None:
    topic, user_id, removed = run(
        lua,
        """
        local subscription_id = Event.subscribe("user.*")
        Event.publish("user.login", {user_id = "123"})
        local event = Event.receive(subscription_id, 5000)
        local removed = Event.unsubscribe(subscription_id)
        return event.topic, event.data.user_id, removed
        """,
    )
    assert (topic, user_id, removed) == ("user.login", "123", True)


def test_receive_without_an_event_is_nil(lua: ScriptRuntime) -> None:
    assert run(lua, 'local s = Event.subscribe("none.*"); return Event.receive(s, 0) == nil')


def test_subscribe_takes_an_options_table(lua: ScriptRuntime) -> None:
    seen = run(
        lua,
        """
        local queued = Event.subscribe("order.*", {})
        local got = {}
        Event.subscribe("order.*", {callback = function(e) got[#got + 1] = e.event_type end})
        Event.publish("order.created", {})
        return {Event.receive(queued, 0).topic, got[1]}
        """,
    )
    assert seen == ["order.created", "order.created"]


def test_an_unknown_subscribe_option_is_refused_by_name(lua: ScriptRuntime) -> None:
    with pytest.raises(ScriptError) as info:
        run(lua, 'Event.subscribe("user.*", {buffer = 10})')
    assert info.value.evalue == "Event.subscribe: unknown option 'buffer'; allowed: callback"


def test_list_subscriptions_gives_id_and_pattern(lua: ScriptRuntime) -> None:
    rows = run(
        lua,
        """
        local id = Event.subscribe("user.*")
        local out = {}
        for i, sub in ipairs(Event.list_subscriptions()) do out[i] = {sub.id == id, sub.pattern} end
        return out
        """,
    )
    assert rows == [[True, "user.*"]]


def test_get_stats_has_the_appendix_fields(lua: ScriptRuntime) -> None:
    published, active = run(
        lua,
        """
        Event.subscribe("user.*")
        Event.publish("user.login", {})
        Event.publish("user.logout", {})
        local stats = Event.get_stats()
        return stats.event_bus_stats.total_published, stats.bridge_stats.active_subscriptions
        """,
    )
    assert (published, active) == (2, 1)
