"""The event bus: publish persists an event to the event log, then hands it to every matching
subscription — a queue a script `receive`s from, or a callback run synchronously on publish.

One bus per runtime (an Infrastructure manager). Subscriptions live in this process; the log is
the durable record `query` reads. Patterns are those of `llmspell.storage.event_types`, so a
subscription and a query with the same pattern select the same events.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import Interrupted, InvalidArgument, NotFound, ScriptStopping
from llmspell.runtime.times import ttl_seconds
from llmspell.storage.event_types import TypePattern, compile_pattern

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.events import EventLog, EventLogStats, LoggedEvent, PruneResult

logger = logging.getLogger("llmspell.events")

# How often a waiting `receive` checks whether the script must stop (interrupt, time limit).
STOP_POLL_S = 0.05

EventCallback = Callable[["LoggedEvent"], Any]


@dataclass
class Subscription:
    """A pattern and where its events go: a bounded queue, or a callback."""

    id: str
    pattern: TypePattern
    callback: EventCallback | None
    thread_id: int  # callbacks run on the thread that registered them
    queue: deque[LoggedEvent]
    created_at: datetime
    delivered: int = 0
    dropped: int = 0  # oldest events pushed out of a full queue
    errors: int = 0  # callback failures
    last_error: str | None = None
    order: int = field(default=0, repr=False)

    @property
    def kind(self) -> str:
        return "callback" if self.callback is not None else "queue"


@dataclass(frozen=True)
class BusStats:
    """The log's counts for the tenant plus what this runtime's bus did."""

    log: EventLogStats
    published: int
    delivered: int
    dropped: int
    queued: int
    subscriptions: int
    callbacks: int


class EventBus:
    """Publish/subscribe over the tenant's event log.

    `enabled=False` (`events.enabled = false`): `publish` does nothing and returns None, so
    components may publish unconditionally; the Event global refuses to be used.
    """

    def __init__(
        self,
        log: Callable[[], EventLog],
        *,
        enabled: bool = True,
        queue_size: int = 1000,
        default_ttl_s: float = 0,
    ) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._log = log  # opens storage on first use
        self.enabled = enabled
        self.queue_size = queue_size
        self.default_ttl_s = default_ttl_s
        self._subscriptions: dict[str, Subscription] = {}
        self._order = itertools.count()
        # Guards the subscriptions and their queues; `receive` waits on it.
        self._changed = threading.Condition()
        # Callback deliveries for subscriptions of another thread, run when that thread next
        # uses the bus (a script's callbacks must run on the script's thread).
        self._pending: dict[int, list[tuple[Subscription, LoggedEvent]]] = {}
        self._published = 0

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> EventBus:
        events = infra.config.events
        return cls(
            lambda: infra.storage.events,
            enabled=events.enabled,
            queue_size=events.queue_size,
            default_ttl_s=events.default_ttl_s,
        )

    # --- publishing -----------------------------------------------------------------------------

    def publish(
        self,
        event_type: str,
        data: Any,
        *,
        correlation_id: str | None = None,
        ttl_s: float | None = None,
    ) -> LoggedEvent | None:
        """Persist the event, queue it for matching subscriptions and run matching callbacks.

        The event expires `ttl_s` seconds after publication (default `events.default_ttl_s`;
        0 = never): an expired event is never received or queried again. A callback's error
        is counted on its subscription and logged; it does not fail the publish."""
        if not self.enabled:
            return None
        ttl = self.default_ttl_s if ttl_s is None else ttl_s
        expires_at = None
        if isinstance(ttl, bool) or ttl != 0:
            lifetime = ttl_seconds("ttl_s", ttl, zero_is_never=True)
            expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)
        event = self._log().append(
            event_type, data, correlation_id=correlation_id, expires_at=expires_at
        )
        me = threading.get_ident()
        now_callbacks: list[Subscription] = []
        with self._changed:
            self._published += 1
            for sub in sorted(self._subscriptions.values(), key=lambda s: s.order):
                if not sub.pattern.matches(event.event_type):
                    continue
                if sub.callback is None:
                    if len(sub.queue) == sub.queue.maxlen:
                        sub.dropped += 1
                    sub.queue.append(event)
                elif sub.thread_id == me:
                    now_callbacks.append(sub)
                else:
                    self._pending.setdefault(sub.thread_id, []).append((sub, event))
            self._changed.notify_all()
        self._run_pending()
        for sub in now_callbacks:
            self._call(sub, event)
        return event

    def _call(self, sub: Subscription, event: LoggedEvent) -> None:
        if sub.id not in self._subscriptions:
            return  # unsubscribed by an earlier callback of the same publish
        try:
            assert sub.callback is not None
            sub.callback(event)
            sub.delivered += 1
        except ScriptStopping:
            raise  # an interrupt or timeout stops the script, not just this callback
        except Exception as exc:
            sub.errors += 1
            sub.last_error = str(exc) or type(exc).__name__
            logger.warning(
                "event callback %s failed on %s: %s", sub.id, event.event_type, sub.last_error
            )

    def _run_pending(self) -> None:
        """Deliver what other threads published to this thread's callbacks."""
        me = threading.get_ident()
        if me not in self._pending:
            return
        with self._changed:
            pending = self._pending.pop(me, [])
        for sub, event in pending:
            self._call(sub, event)

    # --- subscriptions --------------------------------------------------------------------------

    def subscribe(self, pattern: str) -> str:
        """A queue subscription to events whose type matches `pattern`; returns its id."""
        return self._add(pattern, None)

    def on(self, pattern: str, callback: EventCallback) -> str:
        """Run `callback(event)` on every matching publish, on this thread; returns its id."""
        if not callable(callback):
            raise InvalidArgument(f"callback must be a function, got {type(callback).__name__}")
        return self._add(pattern, callback)

    def _add(self, pattern: str, callback: EventCallback | None) -> str:
        try:
            compiled = compile_pattern(pattern)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
        sub = Subscription(
            id=f"sub-{uuid.uuid4().hex[:12]}",
            pattern=compiled,
            callback=callback,
            thread_id=threading.get_ident(),
            queue=deque(maxlen=self.queue_size),
            created_at=datetime.now(UTC),
            order=next(self._order),
        )
        with self._changed:
            self._subscriptions[sub.id] = sub
        return sub.id

    def unsubscribe(self, sub_id: str) -> bool:
        """Remove a subscription (its queued events go with it); True if it existed."""
        with self._changed:
            removed = self._subscriptions.pop(sub_id, None)
            self._changed.notify_all()
        return removed is not None

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        with self._changed:
            return sorted(self._subscriptions.values(), key=lambda s: s.order)

    def receive(
        self,
        sub_id: str,
        timeout_s: float = 0,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> LoggedEvent | None:
        """The oldest unexpired event queued for `sub_id`, waiting up to `timeout_s` seconds
        for one; None when none came. Waits in short slices, asking `stop_requested` between
        them, and raises Interrupted when it says so."""
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)):
            raise InvalidArgument(f"timeout must be a number, got {timeout_s!r}")
        if not timeout_s >= 0:
            raise InvalidArgument(f"timeout must be >= 0, got {timeout_s!r}")
        self._run_pending()
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                sub = self._subscriptions.get(sub_id)
                if sub is None:
                    raise NotFound(f"no subscription {sub_id!r}")
                if sub.callback is not None:
                    raise InvalidArgument(
                        f"subscription {sub_id!r} delivers to a callback (Event.on); receive "
                        "reads subscriptions made with Event.subscribe"
                    )
                event = _next_live(sub.queue)
                if event is not None:
                    sub.delivered += 1
                    return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if stop_requested():
                    raise Interrupted("interrupted while waiting for an event")
                self._changed.wait(min(remaining, STOP_POLL_S))
                if stop_requested():
                    raise Interrupted("interrupted while waiting for an event")

    # --- the log --------------------------------------------------------------------------------

    def query(self, **filters: Any) -> list[LoggedEvent]:
        """Events from the persisted log (see `EventLog.query` for the filters)."""
        self._run_pending()
        return self._log().query(**filters)

    def prune(self, before: datetime | None = None) -> PruneResult:
        """Delete the tenant's events older than `before` and its expired ones."""
        return self._log().prune(before)

    def stats(self) -> BusStats:
        with self._changed:
            subs = list(self._subscriptions.values())
            published = self._published
        return BusStats(
            log=self._log().stats(),
            published=published,
            delivered=sum(s.delivered for s in subs),
            dropped=sum(s.dropped for s in subs),
            queued=sum(len(s.queue) for s in subs),
            subscriptions=sum(1 for s in subs if s.callback is None),
            callbacks=sum(1 for s in subs if s.callback is not None),
        )

    def close(self) -> None:
        """Drop every subscription and wake any waiting receive."""
        with self._changed:
            self._subscriptions.clear()
            self._pending.clear()
            self._changed.notify_all()


def _next_live(queue: deque[LoggedEvent]) -> LoggedEvent | None:
    now = datetime.now(UTC)
    while queue:
        event = queue.popleft()
        if event.expires_at is None or event.expires_at > now:
            return event
    return None
