"""`Event`: publish/subscribe between parts of a script, and the persisted event log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace
from llmspell.runtime.display import Records
from llmspell.runtime.errors import Disabled
from llmspell.runtime.times import format_time, parse_time

if TYPE_CHECKING:  # the component module loads SQLAlchemy, which start-up should not pay
    from llmspell.runtime.events import EventBus, Subscription
    from llmspell.storage.components.events import LoggedEvent

PUBLISH_OPTIONS = frozenset({"correlation_id", "ttl_s"})
QUERY_FILTERS = frozenset({"type", "pattern", "correlation_id", "since", "until", "limit"})
PRUNE_OPTIONS = frozenset({"before"})
SUBSCRIBE_OPTIONS = frozenset({"callback"})
MAX_ID_LEN = 256
EVENT_COLUMNS = ["sequence", "timestamp", "event_type", "correlation_id", "data", "id"]
SUBSCRIPTION_COLUMNS = [
    "id",
    "pattern",
    "kind",
    "queued",
    "delivered",
    "dropped",
    "errors",
    "last_error",
    "created_at",
]


def event_record(event: LoggedEvent) -> dict[str, Any]:
    """An event as scripts see it."""
    return {
        "id": event.event_id,
        "event_type": event.event_type,
        "data": event.data,
        "timestamp": format_time(event.timestamp),
        "sequence": event.sequence,
        "correlation_id": event.correlation_id,
    }


def _subscription_record(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "pattern": sub.pattern.text,
        "kind": sub.kind,
        "queued": len(sub.queue),
        "delivered": sub.delivered,
        "dropped": sub.dropped,
        "errors": sub.errors,
        "last_error": sub.last_error,
        "created_at": format_time(sub.created_at),
    }


class EventApi(ApiNamespace):
    """Publish/subscribe with `*`, `prefix.*`, exact and glob patterns; every published event is
    also written to the tenant's event log, which `Event.query` reads in sequence order."""

    api_name = "Event"

    @property
    def _bus(self) -> EventBus:
        from llmspell.runtime.events import EventBus  # on first use: its patterns load RE2

        bus = self._ctx.infrastructure.get(EventBus)
        if not bus.enabled:
            raise Disabled("events.enabled")
        return bus

    def publish(self, event_type: str, data: Any = None, options: Any = None) -> str:
        """Publish an event of `event_type` (e.g. `order.created`) carrying JSON-able `data`;
        options `{correlation_id?, ttl_s?}` (`ttl_s`: seconds until it expires; default
        `events.default_ttl_s`, 0 = never). The event is written to the event log, queued for
        matching subscriptions and passed to matching `Event.on` callbacks before this
        returns. Returns the event id."""
        fn = "Event.publish"
        event_type = require_str(fn, "event_type", event_type)
        opts = require_table(fn, "options", options)
        check_options(fn, opts, PUBLISH_OPTIONS)
        correlation_id = _optional_id(fn, "correlation_id", opts.get("correlation_id"))
        ttl_s = opts.get("ttl_s")
        if ttl_s is not None and (isinstance(ttl_s, bool) or not isinstance(ttl_s, (int, float))):
            raise ValueError(f"{fn}: ttl_s must be a number of seconds, got {type_name(ttl_s)}")
        event = self._bus.publish(
            event_type,
            ensure_data(fn, "data", data),
            correlation_id=correlation_id,
            ttl_s=ttl_s,
        )
        assert event is not None  # the bus is enabled (checked by `_bus`)
        return event.event_id

    def subscribe(self, pattern: str, options: Any = None) -> str:
        """Subscribe to events whose type matches `pattern`: `*` (all), `prefix.*`, an exact
        type, or a glob (`?` one character, `[abc]` a class). Events queue for
        `Event.receive`; returns the subscription id. Options `{callback?}`: with a function,
        it is called on every matching publish instead (as `Event.on(pattern, callback)`)."""
        fn = "Event.subscribe"
        pattern = require_str(fn, "pattern", pattern)
        opts = require_table(fn, "options", options)
        check_options(fn, opts, SUBSCRIBE_OPTIONS)
        if opts.get("callback") is not None:
            return self._on(fn, pattern, opts["callback"])
        return self._bus.subscribe(pattern)

    def receive(self, sub_id: str, timeout_ms: Any = 0) -> dict[str, Any] | None:
        """The next event queued for a subscription, `{id, event_type, topic (the same as
        event_type), data, timestamp, sequence, correlation_id}`, waiting up to `timeout_ms`
        milliseconds (default 0: do not wait) for one to be published; nil when none came. An
        interrupt stops the wait."""
        fn = "Event.receive"
        sub_id = require_str(fn, "sub_id", sub_id)
        if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)):
            raise ValueError(f"{fn}: timeout_ms must be a number, got {type_name(timeout_ms)}")
        if not timeout_ms >= 0:
            raise ValueError(f"{fn}: timeout_ms must be >= 0, got {timeout_ms}")
        event = self._bus.receive(sub_id, timeout_ms / 1000, self._ctx.stop_requested)
        if event is None:
            return None
        return {**event_record(event), "topic": event.event_type}

    def on(self, pattern: str, fn: Any) -> str:
        """Call `fn(event)` synchronously on every publish of a matching event (same patterns
        as `Event.subscribe`); returns the subscription id. An error in `fn` does not fail the
        publish: it is counted in `Event.list_subscriptions()` (`errors`, `last_error`)."""
        return self._on("Event.on", require_str("Event.on", "pattern", pattern), fn)

    def _on(self, name: str, pattern: str, fn: Any) -> str:
        if not callable(fn):
            raise ValueError(f"{name}: fn must be a function, got {type_name(fn)}")
        return self._bus.on(pattern, lambda event: fn(event_record(event)))

    def unsubscribe(self, sub_id: str) -> bool:
        """Remove a subscription or callback (queued events are dropped); true if it existed."""
        return self._bus.unsubscribe(require_str("Event.unsubscribe", "sub_id", sub_id))

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription of this runtime, oldest first: `{id, pattern, kind ("queue" or
        "callback"), queued, delivered, dropped, errors, last_error, created_at}`."""
        subs = self._bus.subscriptions()
        return Records([_subscription_record(sub) for sub in subs], SUBSCRIPTION_COLUMNS)

    def query(self, filter: Any = None) -> list[dict[str, Any]]:
        """Events from the persisted log, in sequence order: filter `{type?, pattern?,
        correlation_id?, since?, until?, limit?}` (`since`/`until`: RFC 3339 or Unix seconds,
        both inclusive; `limit` keeps the first N). Expired events are not returned."""
        fn = "Event.query"
        opts = require_table(fn, "filter", filter)
        check_options(fn, opts, QUERY_FILTERS)
        filters: dict[str, Any] = {}
        if opts.get("type") is not None:
            filters["event_type"] = require_str(fn, "type", opts["type"])
        if opts.get("pattern") is not None:
            filters["pattern"] = require_str(fn, "pattern", opts["pattern"])
        filters["correlation_id"] = _optional_id(fn, "correlation_id", opts.get("correlation_id"))
        for bound in ("since", "until"):
            if opts.get(bound) is not None:
                filters[bound] = parse_time(fn, bound, opts[bound])
        if opts.get("limit") is not None:
            filters["limit"] = require_int(fn, "limit", opts["limit"], minimum=0)
        events = self._bus.query(**filters)
        return Records([event_record(event) for event in events], EVENT_COLUMNS)

    def get_stats(self) -> dict[str, Any]:
        """Counts: `total` and `by_type` (the tenant's unexpired logged events),
        `last_sequence`, and for this runtime `published`, `delivered`, `dropped` (pushed out
        of a full queue, `events.queue_size`), `queued`, `subscriptions`, `callbacks`. The
        reference system's shape is there too: `event_bus_stats = {total_published,
        total_delivered, total_dropped}` and `bridge_stats = {active_subscriptions,
        active_callbacks, queued}` (this runtime's counts)."""
        stats = self._bus.stats()
        return {
            "total": stats.log.total,
            "by_type": stats.log.by_type,
            "last_sequence": stats.log.last_sequence,
            "published": stats.published,
            "delivered": stats.delivered,
            "dropped": stats.dropped,
            "queued": stats.queued,
            "subscriptions": stats.subscriptions,
            "callbacks": stats.callbacks,
            "event_bus_stats": {
                "total_published": stats.published,
                "total_delivered": stats.delivered,
                "total_dropped": stats.dropped,
            },
            "bridge_stats": {
                "active_subscriptions": stats.subscriptions + stats.callbacks,
                "active_callbacks": stats.callbacks,
                "queued": stats.queued,
            },
        }

    def prune(self, options: Any = None) -> dict[str, Any]:
        """Retention: delete this tenant's expired events and, with `{before = time}`, those
        published before it. Returns `{deleted, partitions_dropped}` (PostgreSQL also drops
        whole old monthly partitions that hold only expired events)."""
        fn = "Event.prune"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, PRUNE_OPTIONS)
        before = opts.get("before")
        result = self._bus.prune(None if before is None else parse_time(fn, "before", before))
        return {"deleted": result.deleted, "partitions_dropped": len(result.partitions_dropped)}


def _optional_id(fn: str, arg: str, value: Any) -> str | None:
    if value is None:
        return None
    return require_str(fn, arg, value, max_len=MAX_ID_LEN)
