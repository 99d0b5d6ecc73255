"""What stands for a session in scripts: its record, and the reference's session object
methods (`session:get_status()`, `add_tag`, `store_value`...) on its id or its record."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import ensure_data, require_str, type_name
from llmspell.runtime.api.base import RecordWithMethods, ValidationError
from llmspell.runtime.sessions import SessionInfo, SessionManager
from llmspell.runtime.state import StateManager
from llmspell.runtime.times import format_time

if TYPE_CHECKING:
    pass


def session_record(info: SessionInfo, methods: SessionMethods | None = None) -> dict[str, Any]:
    """The record scripts see: `{id, name, description, tags, status, created_at, updated_at,
    parent_id, metadata, artifact_count}` (times in RFC 3339 UTC); with `methods`, a record
    that also has the session methods (`record:get_status()`)."""
    r = info.record
    fields = {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "tags": list(r.tags),
        "status": r.status,
        "created_at": format_time(r.created_at),
        "updated_at": format_time(r.updated_at),
        "parent_id": r.parent_id,
        "metadata": r.metadata,
        "artifact_count": info.artifact_count,
    }
    return fields if methods is None else SessionRecord(fields, methods)


class SessionMethods:
    """The reference's session object methods (`session:get_status()`), on what stands for a
    session here: its id, or its record. Scripts call them on either (in Lua any string has
    them; in Python `Session.create` returns a `SessionHandle`, an id string with them)."""

    NAMES = (
        "get_id",
        "get_name",
        "get_status",
        "get_created_at",
        "get_tags",
        "add_tag",
        "has_tag",
        "store_value",
        "get_value",
    )

    def __init__(self, sessions: SessionManager, state: StateManager) -> None:
        self._sessions = sessions
        self._state = state

    def _id(self, fn: str, session: Any) -> str:
        if isinstance(session, dict):
            session = session.get("id")
        if not isinstance(session, str):
            raise ValidationError(
                f"session:{fn}: call it on a session id or record, got {type_name(session)}"
            )
        return self._sessions.record(session).id

    def get_id(self, session: Any) -> str:
        """The session's id."""
        return self._id("get_id", session)

    def get_name(self, session: Any) -> str | None:
        """The session's name (nil when it has none)."""
        return self._sessions.record(self._id("get_name", session)).name

    def get_status(self, session: Any) -> str:
        """active, suspended, completed, failed or archived."""
        return self._sessions.record(self._id("get_status", session)).status

    def get_created_at(self, session: Any) -> str:
        """When the session was created (RFC 3339 UTC)."""
        return format_time(self._sessions.record(self._id("get_created_at", session)).created_at)

    def get_tags(self, session: Any) -> builtins.list[str]:
        """The session's tags."""
        return list(self._sessions.record(self._id("get_tags", session)).tags)

    def add_tag(self, session: Any, tag: str) -> bool:
        """Add `tag` (nothing changes when the session has it); true."""
        sid = self._id("add_tag", session)
        tag = require_str("session:add_tag", "tag", tag)
        tags = list(self._sessions.record(sid).tags)
        if tag not in tags:
            self._sessions.update(sid, tags=[*tags, tag])
        return True

    def has_tag(self, session: Any, tag: str) -> bool:
        """Whether the session has `tag`."""
        sid = self._id("has_tag", session)
        return require_str("session:has_tag", "tag", tag) in self._sessions.record(sid).tags

    def store_value(self, session: Any, key: str, value: Any) -> bool:
        """Keep `value` under `key` in the session's State scope `session:<id>` (deleted with
        the session); true."""
        sid = self._id("store_value", session)
        self._state.save(
            f"session:{sid}",
            require_str("session:store_value", "key", key),
            ensure_data("session:store_value", "value", value),
        )
        return True

    def get_value(self, session: Any, key: str) -> Any:
        """The value kept under `key` by `store_value` (nil when there is none)."""
        sid = self._id("get_value", session)
        return self._state.load(f"session:{sid}", require_str("session:get_value", "key", key))

    def bound(self) -> dict[str, Callable[..., Any]]:
        return {name: getattr(self, name) for name in self.NAMES}


class SessionHandle(str):
    """A session id that has the session methods too (`sid.get_status()`), for the Python
    engine; it is the id string everywhere else (Lua gets a plain string, whose methods come
    from `SessionMethods` through the engine)."""

    _methods: SessionMethods

    def __new__(cls, session_id: str, methods: SessionMethods) -> SessionHandle:
        handle = super().__new__(cls, session_id)
        handle._methods = methods
        return handle

    def __getattr__(self, name: str) -> Any:
        if name in SessionMethods.NAMES:
            return functools.partial(getattr(self._methods, name), str(self))
        raise AttributeError(name)


class SessionRecord(RecordWithMethods):
    """A session's record that has the session methods too (`Session.get(id):get_status()`)."""

    def __init__(self, fields: dict[str, Any], methods: SessionMethods) -> None:
        super().__init__(fields)
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        if name in SessionMethods.NAMES:
            return functools.partial(getattr(self._methods, name), self["id"])
        raise AttributeError(name)
