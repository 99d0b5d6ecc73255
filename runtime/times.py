"""Times as scripts see them: RFC 3339 in UTC with microseconds out, RFC 3339 or Unix seconds in;
and lifetimes in seconds (`ttl_s`).

Every time and lifetime a script passes is checked here, so each is refused with the same words
and a range that storage can hold (years 1 to 9999; lifetimes up to 100 years).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from llmspell.storage.values import shown

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Unix seconds of 0001-01-01T00:00:00Z and of the first moment after 9999-12-31T23:59:59.999999Z
MIN_UNIX_S = -62_135_596_800
END_UNIX_S = 253_402_300_800
UNIX_RANGE = f"from {MIN_UNIX_S} to {END_UNIX_S - 1} (years 1 to 9999)"
# The longest lifetime (100 years of 365.25 days): anything longer is what "never" is for.
MAX_TTL_S = 3_155_760_000


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
    """Accept an RFC 3339 string or Unix seconds (years 1 to 9999); raise ValueError naming
    `fn` and `arg`."""
    if isinstance(value, bool):
        raise ValueError(f"{fn}: {arg} must be an RFC 3339 time or Unix seconds, got {value!r}")
    if isinstance(value, (int, float)):
        return from_unix_seconds(f"{fn}: {arg}", value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"{fn}: {arg} must be an RFC 3339 time (e.g. 2026-01-31T12:00:00Z) "
                f"or Unix seconds, got {shown(value)}"
            ) from None
        if parsed.tzinfo is None:
            raise ValueError(f"{fn}: {arg} needs a UTC offset or Z, got {shown(value)}")
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:00:00-02:00 is in year 10000 in UTC
            raise ValueError(
                f"{fn}: {arg} must be a time in the years 1 to 9999 in UTC, got {shown(value)}"
            ) from None
    raise ValueError(f"{fn}: {arg} must be an RFC 3339 time or Unix seconds, got {shown(value)}")


def from_unix_seconds(what: str, seconds: float) -> datetime:
    """The UTC time `seconds` after 1970-01-01; ValueError naming `what` and the range when it
    is not a finite number of seconds within years 1 to 9999."""
    if not (isinstance(seconds, (int, float)) and MIN_UNIX_S <= seconds < END_UNIX_S):
        raise ValueError(f"{what} must be Unix seconds {UNIX_RANGE}, got {shown(seconds)}")
    return EPOCH + timedelta(seconds=seconds)


def ttl_seconds(arg: str, value: object, *, zero_is_never: bool) -> float:
    """`value` as a lifetime in seconds, at most MAX_TTL_S (100 years): more than 0, or also
    0 when `zero_is_never` (otherwise nil is). ValueError naming `arg` and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        never = "0 = never" if zero_is_never else "nil = never"
        raise ValueError(f"{arg} must be a number of seconds ({never}), got {shown(value)}")
    if zero_is_never and not 0 <= value <= MAX_TTL_S:
        raise ValueError(
            f"{arg} must be a number of seconds from 0 to {MAX_TTL_S} (100 years; 0 = never), "
            f"got {shown(value)}"
        )
    if not zero_is_never and not 0 < value <= MAX_TTL_S:
        raise ValueError(
            f"{arg} must be more than 0 and at most {MAX_TTL_S} seconds (100 years; "
            f"nil = never), got {shown(value)}"
        )
    return float(value)
