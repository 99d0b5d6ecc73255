"""The `datetime-handler` tool: now, parse, format, add and diff, with IANA time zones."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from llmspell.runtime.times import format_time, from_unix_seconds
from llmspell.runtime.tools.registry import Tool, ToolFailure
from llmspell.storage.values import SHOWN_CHARS, shown

UNITS = {
    "seconds": 1.0,
    "minutes": 60.0,
    "hours": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["now", "parse", "format", "add", "diff"]},
        "input": {"type": ["string", "number"]},
        "other": {"type": ["string", "number"]},
        "format": {"type": "string"},
        "timezone": {"type": "string"},
        "amount": {"type": "number"},
        "unit": {"enum": list(UNITS)},
    },
    "required": ["operation"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"operation": {"enum": ["parse", "format", "add", "diff"]}}},
            "then": {"required": ["input"]},
        },
        {"if": {"properties": {"operation": {"const": "add"}}}, "then": {"required": ["amount"]}},
    ],
}


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None or name.upper() == "UTC":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ToolFailure(
            f"unknown time zone {name!r} (use an IANA name like Europe/Paris)"
        ) from None


def _moment(value: Any, fmt: str | None, zone: ZoneInfo | None) -> datetime:
    """A time from RFC 3339 / ISO 8601 text, Unix seconds, or text in `fmt` (strptime)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return from_unix_seconds("a time given as a number", value)
        except ValueError as exc:
            raise ToolFailure(str(exc)) from None
    text = str(value).strip()
    try:
        if fmt:
            moment = datetime.strptime(text, fmt)
        else:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError as exc:
        how = f"format {fmt!r}" if fmt else "RFC 3339 / ISO 8601"
        # strptime says which part did not match; both errors quote the whole text again
        why = f": {exc}" if fmt and len(text) <= SHOWN_CHARS else ""
        raise ToolFailure(f"cannot parse {shown(text)} as a time ({how}){why}") from None
    if moment.tzinfo is None:  # a local time in `timezone` (UTC when none is given)
        moment = moment.replace(tzinfo=zone or UTC)
    return moment


def _show(moment: datetime, zone: ZoneInfo | None) -> str:
    if zone is None:
        return format_time(moment)
    return moment.astimezone(zone).isoformat(timespec="microseconds")


def handle(params: dict[str, Any]) -> Any:
    """The result of one datetime-handler operation (see SCHEMA)."""
    operation = params["operation"]
    zone = _zone(params.get("timezone"))
    unit = UNITS[params.get("unit", "seconds")]
    if operation == "now":
        now = datetime.now(UTC)
        return (
            now.astimezone(zone).strftime(params["format"])
            if "format" in params
            else _show(now, zone)
        )
    # `format` describes the input for parse/add/diff and the output for format.
    input_format = params.get("format") if operation != "format" else None
    moment = _moment(params["input"], input_format, zone)
    if operation == "parse":
        return _show(moment, zone)
    if operation == "format":
        pattern = params.get("format", "%Y-%m-%dT%H:%M:%S%z")
        return moment.astimezone(zone or UTC).strftime(pattern)
    if operation == "add":
        seconds = params["amount"] * unit
        if not math.isfinite(seconds):
            raise ToolFailure(f"amount must be a finite number, got {params['amount']}")
        try:
            return _show(moment + timedelta(seconds=seconds), zone)
        except OverflowError:
            raise ToolFailure("the resulting time is out of range (years 1 to 9999)") from None
    other = _moment(params["other"], input_format, zone) if "other" in params else datetime.now(UTC)
    seconds = (other - moment).total_seconds()
    value = seconds / unit
    return int(value) if value.is_integer() else value


TOOL = Tool(
    name="datetime-handler",
    description="Current time, parsing, formatting (strftime), adding durations and "
    "differences between times, in any IANA time zone",
    category="time",
    schema=SCHEMA,
    run=handle,
    tags=("time", "offline"),
)
