"""`Replay`: the reference system's helpers for replaying a session's recorded hook executions —
modes, a configuration with modifications (run by `Session.replay`), schedule descriptions and a
result comparator."""

from __future__ import annotations

import json
import re
from typing import Any

from llmspell.runtime.api.arguments import (
    ensure_data,
    optional_number,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace, ApiObject, ValidationError
from llmspell.runtime.api.session_api import modifications_of, replay_summary
from llmspell.runtime.sessions import SessionManager
from llmspell.runtime.sessions.replay import REPLAY_MODES

MODES = {mode: mode for mode in REPLAY_MODES}
# second minute hour day-of-month month day-of-week (the reference's six-field form), or five
CRON_FIELD = re.compile(r"^[0-9*/,\-?LW#A-Za-z]+$")


class ReplayApi(ApiNamespace):
    """Replay helpers over `Session.replay`: `Replay.modes`, `Replay.create_config(mode)`,
    `Replay.create_modification(path, value, enabled)`, `Replay.schedules.*` and
    `Replay.create_comparator()`."""

    api_name = "Replay"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.modes = dict(MODES)
        self.schedules = ReplaySchedulesApi(ctx)

    def create_config(self, mode: str = "exact") -> ReplayConfig:
        """A replay configuration for `mode` (one of `Replay.modes`). Methods:
        `:add_modification(path, value, enabled?)` or `:add_modification(mod)`, `:get_mode()`,
        `:get_modifications()`, `:replay(session_id, options?)` (runs `Session.replay` with this
        mode and these modifications)."""
        mode = require_str("Replay.create_config", "mode", mode)
        if mode not in MODES:
            raise ValidationError(
                f"Replay.create_config: mode must be one of {', '.join(MODES)}, got {mode!r}"
            )
        return ReplayConfig(self._ctx.infrastructure.get(SessionManager), mode)

    def create_modification(self, path: str, value: Any, enabled: bool = True) -> dict[str, Any]:
        """A modification `{path, value, enabled}` for a `modified` replay: `path` is dotted
        (`params.max_tokens` is read under the recorded context's `data`)."""
        return _modification("Replay.create_modification", path, value, enabled)

    def create_comparator(self) -> ReplayComparator:
        """A comparator: `:compare_json(original, replayed)` → `{identical, similarity_score
        (0..1, the share of equal leaf values), summary, differences = [{path, original,
        replayed}]}`; each side is a table or JSON text."""
        return ReplayComparator()


class ReplaySchedulesApi(ApiNamespace):
    """Schedule descriptions `{type, ...}`. llmspell has no background scheduler: a schedule
    is a checked description for the caller's own loop, not something that runs a replay."""

    api_name = "Replay.schedules"

    def once(self, delay_seconds: float) -> dict[str, Any]:
        """`{type = "once", delay_seconds}` (a number >= 0)."""
        return {"type": "once", "delay_seconds": _seconds("once", "delay_seconds", delay_seconds)}

    def interval(
        self, initial_delay: float, interval: float, max_executions: int | None = None
    ) -> dict[str, Any]:
        """`{type = "interval", initial_delay, interval, max_executions}`: `interval` > 0,
        `max_executions` an integer >= 1 or nil (no limit)."""
        every = _seconds("interval", "interval", interval)
        if every <= 0:
            raise ValidationError(f"Replay.schedules.interval: interval must be > 0, got {every}")
        count = None
        if max_executions is not None:
            count = require_int(
                "Replay.schedules.interval", "max_executions", max_executions, minimum=1
            )
        return {
            "type": "interval",
            "initial_delay": _seconds("interval", "initial_delay", initial_delay),
            "interval": every,
            "max_executions": count,
        }

    def cron(self, expression: str) -> dict[str, Any]:
        """`{type = "cron", expression, fields}`: five or six space-separated cron fields (the
        reference's form starts with seconds: `"0 */5 * * * *"`)."""
        text = require_str("Replay.schedules.cron", "expression", expression)
        fields = text.split()
        if len(fields) not in (5, 6) or not all(CRON_FIELD.match(f) for f in fields):
            raise ValidationError(
                "Replay.schedules.cron: expression must be 5 or 6 space-separated cron fields "
                f"(e.g. '0 */5 * * * *'), got {text!r}"
            )
        return {"type": "cron", "expression": text, "fields": fields}


class ReplayConfig(ApiObject):
    """A replay mode and its modifications, run with `:replay(session_id)`."""

    api_name = "ReplayConfig"

    def __init__(self, sessions: SessionManager, mode: str) -> None:
        self._sessions = sessions
        self._mode = mode
        self._modifications: list[dict[str, Any]] = []

    def add_modification(self, path: Any, value: Any = None, enabled: bool = True) -> ReplayConfig:
        """Add a modification: `(path, value, enabled?)` or one table made by
        `Replay.create_modification`; returns the config."""
        fn = "ReplayConfig.add_modification"
        if isinstance(path, dict):
            if value is not None:
                raise ValidationError(f"{fn}: give a modification table or (path, value)")
            modifications_of(fn, [path])  # checks it
            mod = _modification(fn, path.get("path"), path.get("value"), path.get("enabled", True))
        else:
            mod = _modification(fn, path, value, enabled)
        self._modifications.append(mod)
        return self

    def get_mode(self) -> str:
        """The mode."""
        return self._mode

    def get_modifications(self) -> list[dict[str, Any]]:
        """The modifications, in the order added."""
        return [dict(m) for m in self._modifications]

    def replay(self, session_id: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """`Session.replay(session_id, options)` with this mode and modifications (options:
        `stop_on_error`, `compare_results`, `timeout_seconds`, `metadata`)."""
        fn = "ReplayConfig.replay"
        options = require_table(fn, "options", options)
        for key in ("mode", "modifications"):
            if key in options:
                raise ValidationError(f"{fn}: {key} comes from the config, not the options")
        changes = modifications_of(fn, self._modifications) if self._mode == "modified" else ()
        return replay_summary(fn, self._sessions, session_id, self._mode, options, changes)


class ReplayComparator(ApiObject):
    """Compares an original result with a replayed one."""

    api_name = "ReplayComparator"

    def compare_json(self, original: Any, replayed: Any) -> dict[str, Any]:
        """`{identical, similarity_score, summary, differences}` (see
        `Replay.create_comparator`)."""
        fn = "ReplayComparator.compare_json"
        left = _leaves(_as_data(fn, "original", original))
        right = _leaves(_as_data(fn, "replayed", replayed))
        paths = sorted(set(left) | set(right))
        differences = [
            {"path": p or "$", "original": left.get(p), "replayed": right.get(p)}
            for p in paths
            if p not in left or p not in right or left[p] != right[p]
        ]
        same = len(paths) - len(differences)
        score = 1.0 if not paths else round(same / len(paths), 4)
        summary = (
            "identical"
            if not differences
            else f"{len(differences)} of {len(paths)} values differ "
            f"(first at {differences[0]['path']})"
        )
        return {
            "identical": not differences,
            "similarity_score": score,
            "summary": summary,
            "differences": differences,
        }


def _modification(fn: str, path: Any, value: Any, enabled: Any) -> dict[str, Any]:
    item = {"path": path, "value": value, "enabled": enabled}
    modifications_of(fn, [item])
    return item


def _seconds(fn: str, arg: str, value: Any) -> float:
    number = optional_number(f"Replay.schedules.{fn}", arg, value)
    if number is None:
        raise ValidationError(f"Replay.schedules.{fn}: {arg} must be a number, got nil")
    if number < 0:
        raise ValidationError(f"Replay.schedules.{fn}: {arg} must be >= 0, got {value}")
    return number


def _as_data(fn: str, arg: str, value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if value is not None and not isinstance(value, (bool, int, float, list, dict)):
        raise ValidationError(f"{fn}: {arg} must be data or JSON text, got {type_name(value)}")
    return ensure_data(fn, arg, value)


def _leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Leaf values by their path (`a.b[2]`); an empty table is a leaf."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_leaves(item, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, item in enumerate(value, start=1):
            out.update(_leaves(item, f"{path}[{i}]"))
        return out
    return {path: value}
