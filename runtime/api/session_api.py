"""`Session`: the lifecycle of a unit of work, persistent in storage."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    optional_str,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace, ApiObject, ValidationError
from llmspell.runtime.api.session_objects import (
    SessionHandle,
    SessionMethods,
    session_record,
)
from llmspell.runtime.display import html_table, register_renderer
from llmspell.runtime.sessions import UNSET, SessionManager, check_tags
from llmspell.runtime.sessions.replay import Modification
from llmspell.runtime.state import StateManager
from llmspell.runtime.times import format_time

if TYPE_CHECKING:
    from llmspell.storage.components.sessions import SessionOrder

CREATE_OPTIONS = frozenset({"id", "name", "description", "tags", "metadata", "parent_id"})
UPDATE_FIELDS = frozenset({"name", "description", "tags", "metadata"})
# `user` and `active`: the reference system's filter
LIST_OPTIONS = frozenset({"status", "tags", "name", "limit", "offset", "order", "user", "active"})
REPLAY_OPTIONS = frozenset(
    {"mode", "stop_on_error", "compare_results", "timeout_seconds", "metadata", "modifications"}
)
RECORD_KEYS = (
    "id",
    "name",
    "description",
    "tags",
    "status",
    "created_at",
    "updated_at",
    "parent_id",
    "metadata",
    "artifact_count",
)


class SessionApi(ApiNamespace):
    """Sessions: named, tagged units of work with a status, persistent in storage."""

    api_name = "Session"
    id_method_names = SessionMethods.NAMES

    @property
    def _sessions(self) -> SessionManager:
        return self._ctx.infrastructure.get(SessionManager)

    @property
    def _methods(self) -> SessionMethods:
        infra = self._ctx.infrastructure
        return SessionMethods(infra.get(SessionManager), infra.get(StateManager))

    def _id_methods(self) -> dict[str, Callable[..., Any]]:
        return self._methods.bound()

    def _handle(self, session_id: str | None) -> SessionHandle | None:
        return None if session_id is None else SessionHandle(session_id, self._methods)

    def create(self, options: dict[str, Any] | None = None) -> str:
        """Create an active session from `{id?, name?, description?, tags?, metadata?,
        parent_id?}`; returns its id (a UUID string), which is also the reference's session
        object: `id:get_id()`, `:get_name()`, `:get_status()`, `:get_created_at()`,
        `:get_tags()`, `:add_tag(tag)`, `:has_tag(tag)`, `:store_value(key, value)`,
        `:get_value(key)` (State scope `session:<id>`). `id` chooses it (a UUID no session has;
        session ids are UUIDs in storage); `parent_id` must name an existing session."""
        options = require_table("Session.create", "options", options)
        check_options("Session.create", options, CREATE_OPTIONS)
        fields = {k: v for k, v in options.items() if k != "id"}
        return SessionHandle(
            self._sessions.create(session_id=options.get("id"), **fields).record.id,
            self._methods,
        )

    def builder(self) -> SessionBuilder:
        """A builder: `Session.builder():name(s):description(s):tag(s):tags(t):metadata(t)
        :build()` returns the new session's id (with the session methods, as from
        `Session.create`)."""
        return SessionBuilder(self._sessions, self._methods)

    def get(self, id: str) -> dict[str, Any]:
        """The session's record `{id, name, description, tags, status, created_at, updated_at,
        parent_id, metadata, artifact_count}`, which has the session methods too
        (`Session.get(id):get_status()`); raises if there is none."""
        return session_record(self._sessions.get(id), self._methods)

    def list(self, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Stored sessions (made by any process) matching `{status?, tags?, name?, limit?,
        offset?, order?, active?, user?}`: `tags` = all of these tags, `name` = a glob
        (`research*`), `order` = `"<updated_at|created_at|name> [asc|desc]"` (default
        `"updated_at desc"`), `active` = true for status active, false for any other status,
        `user` = sessions whose `metadata.user` or `metadata.username` is this."""
        # Imported here: storage modules load SQLAlchemy, which building a runtime must not.
        from llmspell.storage.components.sessions import SESSION_STATUSES, SessionQuery

        options = require_table("Session.list", "options", options)
        check_options("Session.list", options, LIST_OPTIONS)
        status = optional_str("Session.list", "status", options.get("status"))
        if status is not None and status not in SESSION_STATUSES:
            raise ValidationError(
                f"Session.list: status must be one of {', '.join(SESSION_STATUSES)}, got {status!r}"
            )
        active = options.get("active")
        if active is not None and not isinstance(active, bool):
            raise ValidationError(
                f"Session.list: active must be a boolean, got {type_name(active)}"
            )
        if active and status not in (None, "active"):
            raise ValidationError(f"Session.list: active = true contradicts status {status!r}")
        if active:
            status = "active"
        user = optional_str("Session.list", "user", options.get("user"))
        tags = options.get("tags")
        order_by, descending = _order("Session.list", options.get("order", "updated_at desc"))
        limit = options.get("limit")
        limit = None if limit is None else require_int("Session.list", "limit", limit, minimum=0)
        offset = require_int("Session.list", "offset", options.get("offset", 0), minimum=0)
        # active = false and user are checked here, so the page is cut after them
        narrowed = active is False or user is not None
        query = SessionQuery(
            status=status,
            tags=check_tags([tags] if isinstance(tags, str) else tags),
            name=optional_str("Session.list", "name", options.get("name")),
            limit=None if narrowed else limit,
            offset=0 if narrowed else offset,
            order_by=order_by,
            descending=descending,
        )
        infos = self._sessions.list(query)
        if narrowed:
            infos = [
                info
                for info in infos
                if (active is not False or info.record.status != "active")
                and (user is None or user in _users_of(info.record.metadata))
            ]
            infos = infos[offset:] if limit is None else infos[offset : offset + limit]
        methods = self._methods
        return [session_record(info, methods) for info in infos]

    def suspend(self, id: str) -> str:
        """active → suspended; returns the new status."""
        return self._sessions.transition(id, "suspend")

    def resume(self, id: str) -> str:
        """suspended → active; returns the new status."""
        return self._sessions.transition(id, "resume")

    def complete(self, id: str, summary: Any = None) -> str:
        """active or suspended → completed; `summary` (text, or a table such as
        `{total_queries = 10}`) is kept as `metadata.summary`."""
        if isinstance(summary, dict):
            status = self._sessions.transition(id, "complete")
            info = self._sessions.get(id)
            self._sessions.update(id, metadata={**info.record.metadata, "summary": summary})
            return status
        return self._sessions.transition(
            id, "complete", optional_str("Session.complete", "summary", summary)
        )

    def fail(self, id: str, reason: str | None = None) -> str:
        """active or suspended → failed; `reason` is kept as `metadata.failure_reason`."""
        return self._sessions.transition(id, "fail", optional_str("Session.fail", "reason", reason))

    def archive(self, id: str) -> str:
        """completed or failed → archived (read-only from then on); returns the new status."""
        return self._sessions.transition(id, "archive")

    def update(self, id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change `{name?, description?, tags?, metadata?}` of a session that is not archived
        (`metadata` replaces the whole table); returns the record."""
        changes = require_table("Session.update", "changes", changes)
        check_options("Session.update", changes, UPDATE_FIELDS)
        fields = {name: changes.get(name, UNSET) for name in UPDATE_FIELDS}
        return session_record(self._sessions.update(id, **fields))

    def delete(self, id: str) -> bool:
        """Delete the session and everything kept for it: its artifacts, its `session:<id>`
        State scope, and the session data of every other component. Returns true."""
        self._sessions.delete(id)
        return True

    def replay(self, id: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Replay the session's recorded hook executions (oldest first) against the hooks
        registered now; `{mode?="exact"|"modified"|"simulate"|"debug", stop_on_error?=false}`.
        `exact`
        calls each recording's hook (the same registration, else the hooks of its name, else
        every hook now at its point) with the recorded context; `modified` does so after
        applying `modifications` (a list of `{path, value, enabled?}`, as
        `Replay.create_modification` makes: `path` is dotted, under the context's `data` unless
        it starts with `point`, `component`, `data` or `correlation_id`); `simulate` only
        checks that each could be replayed; `debug` is `exact` plus `trace = [{execution_id,
        point, hook_id, context, result, recorded_result, error}]`, one per hook called.
        Nothing is recorded and no guarded operation is repeated. Further options:
        `compare_results` (a recording fails when its hooks now return another result than
        the recorded one), `timeout_seconds` (stop before the next recording after that
        long; `timed_out` says so), `metadata` (returned as given). Returns `{session_id,
        correlation_id (this replay's), hooks_replayed, successful, failed, duration_ms,
        errors=[{execution_id, point, error}], timed_out, metadata}`, with the reference
        system's names too: `successful_replays`, `failed_replays`, `total_duration`
        (seconds)."""
        fn = "Session.replay"
        options = require_table(fn, "options", options)
        check_options(fn, options, REPLAY_OPTIONS)
        mode = require_str(fn, "mode", options.get("mode", "exact"))
        changes = modifications_of(fn, options.get("modifications"))
        rest = {k: v for k, v in options.items() if k not in ("mode", "modifications")}
        return replay_summary(fn, self._sessions, id, mode, rest, changes)

    def can_replay(self, id: str) -> bool:
        """Whether the session has recorded hook executions and each has a hook registered now
        to be replayed against."""
        return self._sessions.can_replay(id)

    def get_replay_metadata(self, id: str) -> dict[str, Any]:
        """What a replay of the session works from: `{session_id, can_replay, recorded_hooks
        (recorded hook executions), hook_points (their points, sorted), first_recorded_at,
        last_recorded_at}` (RFC 3339, nil with no recordings)."""
        meta = self._sessions.replay_metadata(id)
        return {
            "session_id": meta.session_id,
            "can_replay": meta.can_replay,
            "recorded_hooks": meta.recorded,
            "hook_points": meta.points,
            "first_recorded_at": _time_or_none(meta.first_recorded_at),
            "last_recorded_at": _time_or_none(meta.last_recorded_at),
        }

    def list_replayable(self) -> builtins.list[str]:
        """Ids of the stored sessions that `Session.can_replay` accepts, newest change
        first."""
        from llmspell.storage.components.sessions import SessionQuery

        infos = self._sessions.list(SessionQuery())
        return [info.record.id for info in infos if self._sessions.can_replay(info.record.id)]

    def get_current(self) -> str | None:
        """This runtime's current session id (with the session methods), or nil."""
        return self._handle(self._sessions.current)

    def set_current(self, id: str | None = None) -> str | None:
        """Make a session current for this runtime (nil clears it); returns the id."""
        return self._handle(self._sessions.set_current(id))

    def save(self, id: str) -> bool:
        """Kept for compatibility: sessions are saved as they change. Checks the session
        exists; returns true."""
        self._sessions.record(id)
        return True

    def load(self, id: str) -> str:
        """Kept for compatibility: every stored session is available. Checks it exists;
        returns its id (with the session methods)."""
        return SessionHandle(self._sessions.record(id).id, self._methods)


class SessionBuilder(ApiObject):
    """Builds a session step by step; `build()` creates it and returns its id."""

    api_name = "SessionBuilder"

    def __init__(self, sessions: SessionManager, methods: SessionMethods) -> None:
        self._sessions = sessions
        self._session_methods = methods
        self._fields: dict[str, Any] = {}
        self._tags: list[str] = []

    def name(self, name: str) -> SessionBuilder:
        """Set the name."""
        self._fields["name"] = require_str("SessionBuilder.name", "name", name)
        return self

    def description(self, description: str) -> SessionBuilder:
        """Set the description."""
        self._fields["description"] = require_str(
            "SessionBuilder.description", "description", description, allow_empty=True
        )
        return self

    def tag(self, tag: str) -> SessionBuilder:
        """Add one tag."""
        self._tags.append(require_str("SessionBuilder.tag", "tag", tag))
        return self

    def tags(self, tags: list[str]) -> SessionBuilder:
        """Add several tags."""
        self._tags.extend(check_tags(tags))
        return self

    def metadata(self, metadata: dict[str, Any]) -> SessionBuilder:
        """Set the metadata table."""
        self._fields["metadata"] = require_table("SessionBuilder.metadata", "metadata", metadata)
        return self

    def build(self) -> str:
        """Create the session; returns its id (with the session methods)."""
        record = self._sessions.create(**self._fields, tags=self._tags).record
        return SessionHandle(record.id, self._session_methods)


def replay_summary(
    fn: str,
    sessions: SessionManager,
    session_id: Any,
    mode: str,
    options: dict[str, Any],
    modifications: tuple[Modification, ...],
) -> dict[str, Any]:
    """Run a replay with `options` (`stop_on_error`, `compare_results`, `timeout_seconds`,
    `metadata`) and return what `Session.replay` documents."""
    stop = _flag(fn, "stop_on_error", options.get("stop_on_error", False))
    compare = _flag(fn, "compare_results", options.get("compare_results", False))
    timeout = options.get("timeout_seconds")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ValidationError(
                f"{fn}: timeout_seconds must be a number, got {type_name(timeout)}"
            )
        if not timeout > 0:
            raise ValidationError(f"{fn}: timeout_seconds must be > 0, got {timeout}")
    check_options(fn, options, REPLAY_OPTIONS - {"mode", "modifications"})
    metadata = require_table(fn, "metadata", options.get("metadata"))
    summary = sessions.replay(session_id, mode, stop, compare, timeout, modifications)
    return {
        "session_id": sessions.record(session_id).id,
        "correlation_id": str(uuid.uuid4()),
        "hooks_replayed": summary.hooks_replayed,
        "successful": summary.successful,
        "failed": summary.failed,
        "duration_ms": summary.duration_ms,
        "errors": summary.errors,
        "timed_out": summary.timed_out,
        "metadata": metadata,
        "successful_replays": summary.successful,
        "failed_replays": summary.failed,
        "total_duration": summary.duration_ms / 1000,
        **({"trace": summary.trace} if mode == "debug" else {}),
    }


def modifications_of(fn: str, value: Any) -> tuple[Modification, ...]:
    """The enabled changes of a `modifications` list of `{path, value, enabled?}`."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, list):
        raise ValidationError(f"{fn}: modifications must be a list, got {type_name(value)}")
    out = []
    for i, item in enumerate(value, start=1):
        where = f"modifications[{i}]"
        if not isinstance(item, dict):
            raise ValidationError(f"{fn}: {where} must be a table, got {type_name(item)}")
        check_options(fn, item, {"path", "value", "enabled"})
        path = require_str(fn, f"{where}.path", item.get("path"))
        if any(not part for part in path.split(".")):
            raise ValidationError(f"{fn}: {where}.path must be dotted names, got {path!r}")
        if _flag(fn, f"{where}.enabled", item.get("enabled", True)):
            out.append(Modification(path, ensure_data(fn, f"{where}.value", item.get("value"))))
    return tuple(out)


def _flag(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{fn}: {name} must be a boolean, got {type_name(value)}")
    return value


def _users_of(metadata: Any) -> list[str]:
    if not isinstance(metadata, dict):
        return []
    return [v for v in (metadata.get("user"), metadata.get("username")) if isinstance(v, str)]


def _time_or_none(value: datetime | None) -> str | None:
    return None if value is None else format_time(value)


def _order(fn: str, value: Any) -> tuple[SessionOrder, bool]:
    from llmspell.storage.components.sessions import SESSION_ORDER_FIELDS

    text = require_str(fn, "order", value)
    parts = text.split()
    field = parts[0] if parts else ""
    direction = parts[1].lower() if len(parts) == 2 else "asc"
    if field not in SESSION_ORDER_FIELDS or len(parts) > 2 or direction not in ("asc", "desc"):
        raise ValidationError(
            f"{fn}: order must be '<field> [asc|desc]' with field one of "
            f"{', '.join(SESSION_ORDER_FIELDS)}, got {text!r}"
        )
    return cast("SessionOrder", field), direction == "desc"


def _is_session_record(value: Any) -> bool:
    return isinstance(value, dict) and {"id", "status", "artifact_count", "created_at"} <= set(
        value
    )


def _render_sessions(value: Any) -> dict[str, Any] | None:
    """Session records (a list from `Session.list`, or one from `Session.get`) as a table."""
    rows = [value] if _is_session_record(value) else value
    if not isinstance(rows, list) or not rows or not all(_is_session_record(r) for r in rows):
        return None
    return {"text/html": html_table(rows, list(RECORD_KEYS))}


register_renderer(_render_sessions)
