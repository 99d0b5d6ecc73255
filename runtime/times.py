"""Times as scripts see them: RFC 3339 in UTC with microseconds out, RFC 3339 or Unix seconds in."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(moment: datetime) -> str:
    """`2026-11-26T09:30:00.123456Z` (so a time read back can be passed in again exactly)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_optional_time(moment: datetime | None) -> str | None:
    """`format_time` for a time that may be absent (an open end, a time not known): None stays
    None (nil in Lua)."""
    return None if moment is None else format_time(moment)


def parse_time(fn: str, arg: str, value: object) -> datetime:
    """Accept an RFC 3339 string or Unix seconds; raise ValueError naming `fn` and `arg`."""
    if isinstance(value, bool):
        raise ValueError(f"{fn}: {arg} must be an RFC 3339 time or Unix seconds, got {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{fn}: {arg} must be an RFC 3339 time (e.g. 2026-01-31T12:00:00Z) "
                f"or Unix seconds, got {value!r}"
            ) from None
        if parsed.tzinfo is None:
            raise ValueError(f"{fn}: {arg} needs a UTC offset or Z, got {value!r}")
        return parsed.astimezone(UTC)
    raise ValueError(f"{fn}: {arg} must be an RFC 3339 time or Unix seconds, got {value!r}")
