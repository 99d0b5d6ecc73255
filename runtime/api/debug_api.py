"""`Debug`: levelled logging to stderr and the `llmspell.script` logger, timers and dumps."""

from __future__ import annotations

import logging
import time
from typing import Any

from llmspell.runtime.api.base import (
    ApiContext,
    ApiNamespace,
    ApiObject,
    ValidationError,
    optional_str,
    raw_args,
    raw_of,
    require_str,
)

LEVELS = ("trace", "debug", "info", "warn", "error")
_PY_LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
logger = logging.getLogger("llmspell.script")
# Debug already writes to the script's stderr; without a handler of its own, logging's
# last-resort handler would print every warning a second time on the process's stderr.
logger.addHandler(logging.NullHandler())


class Timer(ApiObject):
    """A running timer from `Debug.timer(name)`."""

    api_name = "Timer"

    def __init__(self, name: str) -> None:
        self._name = name
        self._start = time.perf_counter()
        self._stopped: float | None = None

    def stop(self) -> float:
        """Stop the timer; returns the elapsed milliseconds (the same value on later calls)."""
        if self._stopped is None:
            self._stopped = (time.perf_counter() - self._start) * 1000.0
        return self._stopped

    def elapsed(self) -> float:
        """Milliseconds since the timer started (or until it stopped)."""
        if self._stopped is not None:
            return self._stopped
        return (time.perf_counter() - self._start) * 1000.0

    def name(self) -> str:
        """The timer's name."""
        return self._name


class DebugApi(ApiNamespace):
    """Levelled logging to stderr, timers and readable dumps of values."""

    api_name = "Debug"

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        self._level = "info"

    def log(self, level: str, message: Any, module: str | None = None) -> None:
        """Write `message` at `level` (trace|debug|info|warn|error) to stderr when the level is
        enabled (see `Debug.setLevel`), and always to the `llmspell.script` Python logger."""
        level = _level("Debug.log", level)
        module = optional_str("Debug.log", "module", module)
        text = message if isinstance(message, str) else self._ctx.format_value(message)
        logger.log(_PY_LEVELS[level], "%s%s", f"[{module}] " if module else "", text)
        if LEVELS.index(level) >= LEVELS.index(self._level):
            where = f" {module}" if module else ""
            self._ctx.sink.stderr(f"[{level.upper()}{where}] {text}\n")

    def trace(self, message: Any) -> None:
        """`Debug.log("trace", message)`."""
        self.log("trace", message)

    def debug(self, message: Any) -> None:
        """`Debug.log("debug", message)`."""
        self.log("debug", message)

    def info(self, message: Any) -> None:
        """`Debug.log("info", message)`."""
        self.log("info", message)

    def warn(self, message: Any) -> None:
        """`Debug.log("warn", message)`."""
        self.log("warn", message)

    def error(self, message: Any) -> None:
        """`Debug.log("error", message)`."""
        self.log("error", message)

    def setLevel(self, level: str) -> str:
        """Show messages at `level` and above on stderr; returns the level set."""
        self._level = _level("Debug.setLevel", level)
        return self._level

    def getLevel(self) -> str:
        """The current level (default "info")."""
        return self._level

    def timer(self, name: str) -> Timer:
        """Start a named timer; `timer:stop()` returns elapsed milliseconds."""
        return Timer(require_str("Debug.timer", "name", name))

    @raw_args("value")
    def dump(self, value: Any) -> str:
        """A readable, pretty-printed string of any value (tables as constructors)."""
        return self._ctx.format_value(raw_of(value))


def _level(fn: str, level: Any) -> str:
    if isinstance(level, str) and level.lower() in LEVELS:
        return level.lower()
    if isinstance(level, str) and level.lower() == "warning":
        return "warn"
    raise ValidationError(f"{fn}: level must be one of {', '.join(LEVELS)}, got {level!r}")
