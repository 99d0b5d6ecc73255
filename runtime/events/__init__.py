"""Events: the bus scripts publish to and subscribe on, kept in the event log (`bus`)."""

from llmspell.runtime.events.bus import STOP_POLL_S, BusStats, EventBus, Subscription

__all__ = ["STOP_POLL_S", "BusStats", "EventBus", "Subscription"]
