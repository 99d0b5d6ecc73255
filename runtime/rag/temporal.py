"""A document's own times, read from its metadata as rs-llmspell scripts write them: when the
event happened (`timestamp`, `created_at` or `event_time`) and how long its chunks live (`ttl`,
`ttl_seconds` or `expires_in`, in seconds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.times import parse_time, ttl_seconds

EVENT_TIME_KEYS = ("event_time", "timestamp", "created_at")
TTL_KEYS = ("ttl", "ttl_seconds", "expires_in")


@dataclass(frozen=True)
class DocumentTimes:
    event_time: datetime | None
    ttl_s: float | None

    def expires_at(self, now: datetime, collection_expiry: datetime | None) -> datetime | None:
        """The sooner of the document's own expiry and its collection's."""
        own = None if self.ttl_s is None else now + timedelta(seconds=self.ttl_s)
        if own is None or collection_expiry is None:
            return own or collection_expiry
        return min(own, collection_expiry)


def document_times(label: str, metadata: Mapping[str, Any]) -> DocumentTimes:
    """The event time and lifetime a document's metadata gives (first key found of each
    group); a value of the wrong kind raises, naming the document and the key."""
    event_time = ttl = None
    for key in EVENT_TIME_KEYS:
        if metadata.get(key) is not None:
            try:
                event_time = parse_time(label, f"metadata {key}", metadata[key])
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            break
    for key in TTL_KEYS:
        if metadata.get(key) is not None:
            try:
                ttl = ttl_seconds(f"{label}: metadata {key}", metadata[key], zero_is_never=False)
            except ValueError as exc:
                raise InvalidArgument(str(exc)) from None
            break
    return DocumentTimes(event_time, ttl)


__all__ = ["EVENT_TIME_KEYS", "TTL_KEYS", "DocumentTimes", "document_times"]
