"""`Debug`: levelled logging to stderr and the `llmspell.script` logger, module filters, a
capture of recent entries, timers with laps and reports, and dumps of values."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    optional_str,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import (
    ApiContext,
    ApiError,
    ApiNamespace,
    ApiObject,
    RawValue,
    ValidationError,
    raw_args,
    raw_of,
)
from llmspell.runtime.debugging.filters import ModuleFilters
from llmspell.runtime.times import format_time

# dumps, stack traces and reports are imported where they are asked for: every `llmspell exec`
# builds this global, few scripts dump a value
if TYPE_CHECKING:
    from llmspell.runtime.debugging.dumps import DumpOptions

LEVELS = ("trace", "debug", "info", "warn", "error")
_PY_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
CAPTURE_SIZE = 1000  # entries `Debug.getCapturedEntries` keeps, the oldest dropped first
MAX_TIMERS = 1000  # timers the reports remember, the oldest dropped first
MAX_TIMER_RECORDS = 1000  # laps and events one timer keeps
DUMP_OPTIONS = ("max_depth", "indent_size", "max_string_length", "show_types", "show_addresses")
logger = logging.getLogger("llmspell.script")
# Debug already writes to the script's stderr; without a handler of its own, logging's
# last-resort handler would print every warning a second time on the process's stderr.
logger.addHandler(logging.NullHandler())


class Timer(ApiObject):
    """A running timer from `Debug.timer(name)`: laps, events, elapsed milliseconds."""

    api_name = "Timer"

    def __init__(self, name: str) -> None:
        self._name = name
        self._start = time.perf_counter()
        self._stopped: float | None = None
        self._laps: deque[dict[str, Any]] = deque(maxlen=MAX_TIMER_RECORDS)
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_TIMER_RECORDS)

    def stop(self) -> float:
        """Stop the timer; returns the elapsed milliseconds (the same value on later calls)."""
        if self._stopped is None:
            self._stopped = (time.perf_counter() - self._start) * 1000.0
        return self._stopped

    def elapsed(self) -> float:
        """Milliseconds since the timer started (or until it stopped), without stopping it."""
        if self._stopped is not None:
            return self._stopped
        return (time.perf_counter() - self._start) * 1000.0

    def lap(self, name: str | None = None) -> float:
        """Record a lap called `name` (default "lap <n>"); returns the milliseconds since the
        start. `timer:laps()` lists them."""
        name = optional_str("Timer.lap", "name", name) or f"lap {len(self._laps) + 1}"
        at = self.elapsed()
        self._laps.append({"name": name, "elapsed_ms": at})
        return at

    def laps(self) -> list[dict[str, Any]]:
        """The laps so far: `{name, elapsed_ms}` each, in order."""
        return [dict(lap) for lap in self._laps]

    def name(self) -> str:
        """The timer's name (what `Debug.recordEvent` takes as its timer id)."""
        return self._name

    def _record(self, event: str, metadata: Any) -> None:
        self._events.append({"name": event, "elapsed_ms": self.elapsed(), "metadata": metadata})

    def _report(self) -> dict[str, Any]:
        return {
            "name": self._name,
            "elapsed_ms": self.elapsed(),
            "running": self._stopped is None,
            "laps": self.laps(),
            "events": [dict(event) for event in self._events],
        }


class DebugApi(ApiNamespace):
    """Levelled logging to stderr with module filters and a capture of recent entries, timers
    and reports, and readable dumps of values."""

    api_name = "Debug"

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        self._level = "info"
        self._enabled = True
        self._filters = ModuleFilters()
        self._captured: deque[dict[str, Any]] = deque(maxlen=CAPTURE_SIZE)
        self._timers: dict[str, Timer] = {}

    # --- logging ------------------------------------------------------------------------------

    def log(self, level: str, message: Any, module: str | None = None) -> None:
        """Write `message` at `level` (trace|debug|info|warn|error) to stderr — when debugging
        is enabled, the level is at least `Debug.getLevel()` and the module filters let
        `module` through — and keep it for `Debug.getCapturedEntries`. Every message also goes
        to the `llmspell.script` Python logger."""
        self._emit("Debug.log", level, message, module, None)

    def trace(self, message: Any, module: str | None = None) -> None:
        """`Debug.log("trace", message, module)`."""
        self._emit("Debug.trace", "trace", message, module, None)

    def debug(self, message: Any, module: str | None = None) -> None:
        """`Debug.log("debug", message, module)`."""
        self._emit("Debug.debug", "debug", message, module, None)

    def info(self, message: Any, module: str | None = None) -> None:
        """`Debug.log("info", message, module)`."""
        self._emit("Debug.info", "info", message, module, None)

    def warn(self, message: Any, module: str | None = None) -> None:
        """`Debug.log("warn", message, module)`."""
        self._emit("Debug.warn", "warn", message, module, None)

    def error(self, message: Any, module: str | None = None) -> None:
        """`Debug.log("error", message, module)`."""
        self._emit("Debug.error", "error", message, module, None)

    def logWithData(self, level: str, message: Any, data: Any, module: str | None = None) -> None:
        """`Debug.log` with structured `data` (plain data), shown after the message as JSON
        and kept as the captured entry's `data`."""
        data = ensure_data("Debug.logWithData", "data", data, self._ctx.infrastructure.limits)
        self._emit("Debug.logWithData", level, message, module, data)

    def _emit(self, fn: str, level: str, message: Any, module: Any, data: Any) -> None:
        level = _level(fn, level)
        module = optional_str(fn, "module", module)
        if not self._enabled:
            return
        text = message if isinstance(message, str) else self._ctx.format_value(message)
        if data is not None:
            text = f"{text} {json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)}"
        logger.log(_PY_LEVELS[level], "%s%s", f"[{module}] " if module else "", text)
        if LEVELS.index(level) < LEVELS.index(self._level) or not self._filters.allows(module):
            return
        self._captured.append(
            {
                "timestamp": format_time(datetime.now(UTC)),
                "level": level,
                "message": text,
                "module": module,
                "data": data,
            }
        )
        where = f" {module}" if module else ""
        self._ctx.sink.stderr(f"[{level.upper()}{where}] {text}\n")

    # --- configuration ------------------------------------------------------------------------

    def setLevel(self, level: str) -> str:
        """Show messages at `level` and above on stderr; returns the level set."""
        self._level = _level("Debug.setLevel", level)
        return self._level

    def getLevel(self) -> str:
        """The current level (default "info")."""
        return self._level

    def setEnabled(self, enabled: bool) -> bool:
        """Turn all Debug logging on or off (on by default); returns the setting."""
        self._enabled = _flag("Debug.setEnabled", "enabled", enabled)
        return self._enabled

    def isEnabled(self) -> bool:
        """Whether Debug logging is on (see `Debug.setEnabled`)."""
        return self._enabled

    # --- module filters -----------------------------------------------------------------------

    def addModuleFilter(self, pattern: str, enabled: bool) -> None:
        """Show (`enabled` true) or hide messages of modules matching the wildcard `pattern`
        (`"api.*"`: `*` any characters, `?` one). The last rule added that matches decides;
        a rule with the same pattern is replaced."""
        self._add_filter("Debug.addModuleFilter", pattern, "wildcard", enabled)

    def addAdvancedFilter(self, pattern: str, pattern_type: str, enabled: bool) -> None:
        """`Debug.addModuleFilter` with a `pattern_type`: "exact", "wildcard", "hierarchical"
        (the module or its sub-modules: "api" matches "api.http") or "regex" (RE2 syntax)."""
        fn = "Debug.addAdvancedFilter"
        self._add_filter(fn, pattern, require_str(fn, "pattern_type", pattern_type), enabled)

    def _add_filter(self, fn: str, pattern: str, pattern_type: str, enabled: bool) -> None:
        pattern = require_str(fn, "pattern", pattern, max_len=1000)
        self._filters.add(fn, pattern, pattern_type, _flag(fn, "enabled", enabled))

    def removeModuleFilter(self, pattern: str) -> bool:
        """Remove the rule with `pattern`; returns whether there was one."""
        return self._filters.remove(require_str("Debug.removeModuleFilter", "pattern", pattern))

    def clearModuleFilters(self) -> None:
        """Remove every module filter rule (the default stays as set)."""
        self._filters.rules.clear()

    def setDefaultFilterEnabled(self, enabled: bool) -> None:
        """Whether messages of modules no rule matches are shown (true by default; a message
        without a module counts as module "")."""
        self._filters.default_enabled = _flag("Debug.setDefaultFilterEnabled", "enabled", enabled)

    def getFilterSummary(self) -> dict[str, Any]:
        """`{total_rules, enabled_rules, disabled_rules, default_enabled, rules}`, each rule
        `{pattern, pattern_type, enabled}` in the order added."""
        return self._filters.summary()

    # --- capture ------------------------------------------------------------------------------

    def getCapturedEntries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` (default all) of the last 1000 messages shown, oldest first:
        `{timestamp, level, message, module, data}` each."""
        entries = list(self._captured)
        if limit is not None:
            count = require_int("Debug.getCapturedEntries", "limit", limit, minimum=0)
            entries = entries[len(entries) - count :] if count else []
        return [dict(entry) for entry in entries]

    def clearCaptured(self) -> None:
        """Forget the captured messages."""
        self._captured.clear()

    # --- dumps --------------------------------------------------------------------------------

    @raw_args("value")
    def dump(self, value: Any, label: str | None = None) -> str:
        """A readable, pretty-printed string of any value in the engine's syntax, after
        `label: ` when a label is given."""
        label = optional_str("Debug.dump", "label", label)
        return _labelled(label, self._ctx.format_value(raw_of(value)))

    @raw_args("value")
    def dumpCompact(self, value: Any, label: str | None = None) -> str:
        """`value` as a one-line Lua constructor (`{1, 2, x = "y"}`), after `label: `."""
        from llmspell.runtime.debugging.dumps import DumpOptions

        return self._dump("Debug.dumpCompact", value, DumpOptions(indent_size=0), label)

    @raw_args("value")
    def dumpVerbose(self, value: Any, label: str | None = None) -> str:
        """`value` indented, every scalar followed by its type (`1 --[[number]]`), 64 levels
        deep, after `label: `."""
        from llmspell.runtime.debugging.dumps import DumpOptions

        options = DumpOptions(max_depth=64, show_types=True)
        return self._dump("Debug.dumpVerbose", value, options, label)

    @raw_args("value")
    def dumpWithOptions(self, value: Any, options: Any = None, label: str | None = None) -> str:
        """`value` as a Lua constructor with `options` `{max_depth=10, indent_size=2 (0: one
        line), max_string_length=0 (0: whole), show_types=false, show_addresses=false}`.
        `show_addresses = true` is refused: host addresses are not shown to scripts."""
        from llmspell.runtime.debugging.dumps import DumpOptions

        fn = "Debug.dumpWithOptions"
        given = require_table(fn, "options", options)
        check_options(fn, given, set(DUMP_OPTIONS))
        if given.get("show_addresses") not in (None, False):
            raise ValidationError(
                f"{fn}: show_addresses must be false: host memory addresses are not shown "
                "to scripts"
            )
        ints = {
            key: require_int(fn, key, given[key], minimum=0, maximum=1000)
            for key in ("max_depth", "indent_size", "max_string_length")
            if given.get(key) is not None
        }
        show_types = given.get("show_types")
        dump = DumpOptions(
            **ints, show_types=False if show_types is None else _flag(fn, "show_types", show_types)
        )
        return self._dump(fn, value, dump, label)

    def _dump(self, fn: str, value: Any, options: DumpOptions, label: Any) -> str:
        from llmspell.runtime.debugging.dumps import dump_value

        label = optional_str(fn, "label", label)
        try:
            plain = value.to_python() if isinstance(value, RawValue) else value
        except ValueError:  # too deep or not convertible: the engine's own dump
            return _labelled(label, self._ctx.format_value(raw_of(value)))
        return _labelled(label, dump_value(plain, options))

    # --- timers and reports -------------------------------------------------------------------

    def timer(self, name: str) -> Timer:
        """Start a named timer: `timer:stop()` returns elapsed milliseconds, `timer:lap(name)`
        records a lap, `timer:elapsed()` reads it running. The reports list the last 1000."""
        timer = Timer(require_str("Debug.timer", "name", name))
        self._timers.pop(timer.name(), None)
        self._timers[timer.name()] = timer
        while len(self._timers) > MAX_TIMERS:
            self._timers.pop(next(iter(self._timers)))
        return timer

    def recordEvent(self, timer_id: str, event_name: str, metadata: Any = None) -> None:
        """Record event `event_name` (with plain-data `metadata`) on the timer named
        `timer_id`, at its elapsed time; the reports show it."""
        fn = "Debug.recordEvent"
        timer = self._timer(fn, require_str(fn, "timer_id", timer_id))
        event = require_str(fn, "event_name", event_name)
        timer._record(event, ensure_data(fn, "metadata", metadata, self._ctx.infrastructure.limits))

    def _timer(self, fn: str, name: str) -> Timer:
        timer = self._timers.get(name)
        if timer is None:
            known = ", ".join(self._timers) or "none yet (Debug.timer(name) starts one)"
            raise ApiError(f"{fn}: no timer named {name!r}; timers: {known}")
        return timer

    def performanceReport(self) -> str:
        """A readable report of the timers: each with its time, laps and events."""
        from llmspell.runtime.debugging.reports import performance_text

        return performance_text([timer._report() for timer in self._timers.values()])

    def jsonReport(self) -> str:
        """A JSON string: `{level, enabled, captured_entries, filters, timers, memory}`, each
        timer `{name, elapsed_ms, running, laps, events}`."""
        report = {
            "level": self._level,
            "enabled": self._enabled,
            "captured_entries": len(self._captured),
            "filters": self._filters.summary(),
            "timers": [timer._report() for timer in self._timers.values()],
            "memory": self.memoryStats(),
        }
        return json.dumps(report, ensure_ascii=False, default=str)

    def flameGraph(self) -> str:
        """The timers in folded-stack form for flame-graph tools: a line `timer <µs>` per timer
        and `timer;lap <µs>` per lap (the time since the previous lap)."""
        from llmspell.runtime.debugging.reports import folded_stacks

        return folded_stacks([timer._report() for timer in self._timers.values()])

    def memoryStats(self) -> dict[str, int]:
        """The host process's memory: `{used_bytes (resident now), allocated_bytes (peak
        resident)}`."""
        from llmspell.runtime.debugging.reports import memory_stats

        return memory_stats()

    def memorySnapshot(self) -> dict[str, Any]:
        """`{timestamp_secs, active_trackers (running timers), used_bytes, allocated_bytes}`."""
        running = sum(1 for timer in self._timers.values() if timer._stopped is None)
        return {"timestamp_secs": int(time.time()), "active_trackers": running,
                **self.memoryStats()}  # fmt: skip

    def stackTrace(self, options: Any = None) -> dict[str, Any]:
        """The script's call stack from the caller outwards: `{frames, depth, truncated}`, each
        frame `{name, source, line, what, locals?, upvalues?}`. Options `{max_depth=50,
        capture_locals=false, capture_upvalues=false, include_source=true}`; a variable's value
        is kept when it is a string, number or boolean, else shown as its type (`"<table>"`).
        (In Lua this runs in Lua itself: a tail call `return Debug.stackTrace()` leaves no frame
        of its caller, as in Lua's own `debug.traceback`.)"""
        from llmspell.runtime.debugging.python_stack import python_stack_trace

        return python_stack_trace("Debug.stackTrace", options, _flag)

    def stackTraceJson(self, options: Any = None) -> str:
        """`Debug.stackTrace(options)` as JSON text."""
        from llmspell.runtime.debugging.python_stack import python_stack_trace

        trace = python_stack_trace("Debug.stackTraceJson", options, _flag)
        return json.dumps(trace, ensure_ascii=False, sort_keys=True)


def _labelled(label: str | None, text: str) -> str:
    return f"{label}: {text}" if label else text


def _flag(fn: str, arg: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{fn}: {arg} must be a boolean, got {type_name(value)}")
    return value


def _level(fn: str, level: Any) -> str:
    if isinstance(level, str) and level.lower() in LEVELS:
        return level.lower()
    if isinstance(level, str) and level.lower() == "warning":
        return "warn"
    raise ValidationError(f"{fn}: level must be one of {', '.join(LEVELS)}, got {level!r}")
