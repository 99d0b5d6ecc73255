"""SessionManager: the lifecycle of sessions over the sessions store, and the runtime's current
session.

Statuses move only along `TRANSITIONS`; a change is written conditionally on the status it was
read with, so two processes cannot both apply one. Deleting a session first asks every
declared session-data owner (`llmspell.runtime.sessions.data`) to delete what it keeps for it,
then removes the record — a failure half-way leaves the session there to delete again.

Hooks: `SessionStart` runs when a session is created and `SessionEnd` when it ends (complete or
fail), each before anything is stored, with the session id as correlation id; a cancel leaves
nothing changed, a `modified` result may change what `HOOK_CHANGES` lists. Every hook execution
records the runtime's current session, which `Session.replay` reads back.
"""

from __future__ import annotations

import builtins
import json
import threading
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, InvalidState, NotFound, kind_of
from llmspell.runtime.hooks import HookRegistry
from llmspell.runtime.sessions import replay as session_replay
from llmspell.runtime.sessions.data import session_data_owners

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.sessions import SessionQuery, SessionRecord, SessionStore

# action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "suspend": (("active",), "suspended"),
    "resume": (("suspended",), "active"),
    "complete": (("active", "suspended"), "completed"),
    "fail": (("active", "suspended"), "failed"),
    "archive": (("completed", "failed"), "archived"),
}
# What `complete(id, summary)` / `fail(id, reason)` keep in the session's metadata.
NOTE_KEYS = {"complete": "summary", "fail": "failure_reason"}
# Hooks that end a session, and the field of their data holding the note.
END_ACTIONS = {"complete": "summary", "fail": "reason"}
# What a `modified` result of each session hook may change in its data.
HOOK_CHANGES = {
    "SessionStart": ("name", "description", "tags", "metadata"),
    "SessionEnd": ("metadata", "summary", "reason"),
}
READ_ONLY_STATUS = "archived"

MAX_NAME = 256
MAX_DESCRIPTION = 4096
MAX_TAG = 64
MAX_TAGS = 64
MAX_METADATA_BYTES = 64 * 1024


@dataclass(frozen=True)
class SessionInfo:
    """A stored session and how many artifacts it holds (the record scripts see)."""

    record: SessionRecord
    artifact_count: int


class _Unset:
    """Marks an `update` field the caller did not give (None means "clear it")."""


UNSET: Any = _Unset()


class SessionManager:
    """Sessions of one tenant, and the current session of this runtime."""

    def __init__(self, infra: Infrastructure) -> None:
        self._infra = infra
        self._current: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> SessionManager:
        manager = cls(infra)
        # Hook executions record the session that is current when they run.
        infra.get(HookRegistry).session_source = lambda: manager.current
        return manager

    @property
    def _hooks(self) -> HookRegistry:
        return self._infra.get(HookRegistry)

    @property
    def _store(self) -> SessionStore:
        store: SessionStore = self._infra.storage.sessions
        return store

    # --- create and read ----------------------------------------------------------------------

    def create(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Any = (),
        metadata: Any = None,
        parent_id: str | None = None,
        session_id: str | None = None,
    ) -> SessionInfo:
        """A new active session, with a fresh UUID unless `session_id` (a UUID no session has)
        is given."""
        if parent_id is not None:
            parent_id = self.record(parent_id).id
        if session_id is None:
            session_id = str(uuid.uuid4())
        else:
            session_id = check_session_id(session_id)
            if self._store.get(session_id) is not None:
                raise InvalidState(f"session {session_id} already exists")
        fields = {
            "name": check_text("name", name, MAX_NAME),
            "description": check_text("description", description, MAX_DESCRIPTION),
            "tags": list(check_tags(tags)),
            "metadata": check_metadata(metadata),
        }
        start = {"id": session_id, "parent_id": parent_id, **fields}
        fields = _hook_changes("SessionStart", start, self._run_hook("SessionStart", start))
        # Imported here: storage modules load SQLAlchemy, which building a runtime must not.
        from llmspell.storage.components.sessions import SessionRecord

        now = datetime.now(UTC)
        record = SessionRecord(
            id=session_id,
            name=check_text("name", fields["name"], MAX_NAME),
            description=check_text("description", fields["description"], MAX_DESCRIPTION),
            tags=check_tags(fields["tags"]),
            status="active",
            parent_id=parent_id,
            metadata=check_metadata(fields["metadata"]),
            created_at=now,
            updated_at=now,
        )
        self._store.create(record)
        return SessionInfo(record, 0)

    def _run_hook(self, point: str, data: dict[str, Any]) -> Any:
        return self._hooks.run(point, "session", data, correlation_id=data["id"])

    def record(self, session_id: Any) -> SessionRecord:
        """The stored record of `session_id`; NotFound if there is none."""
        checked = check_session_id(session_id)
        record = self._store.get(checked)
        if record is None:
            raise NotFound(f"no session {checked}")
        return record

    def get(self, session_id: Any) -> SessionInfo:
        record = self.record(session_id)
        return SessionInfo(record, self._counts([record.id])[record.id])

    def list(self, query: SessionQuery) -> list[SessionInfo]:
        """Stored sessions matching `query` (every process's, not only this runtime's)."""
        for tag in query.tags:
            require_text("tag", tag, MAX_TAG)
        records = self._store.list(query)
        counts = self._counts([r.id for r in records])
        return [SessionInfo(r, counts[r.id]) for r in records]

    def _counts(self, session_ids: builtins.list[str]) -> dict[str, int]:
        counts: dict[str, int] = self._infra.storage.artifacts.count_by_session(session_ids)
        return counts

    # --- change -------------------------------------------------------------------------------

    def update(
        self,
        session_id: Any,
        *,
        name: Any = UNSET,
        description: Any = UNSET,
        tags: Any = UNSET,
        metadata: Any = UNSET,
    ) -> SessionInfo:
        """Replace the given fields (None clears name/description); archived sessions are
        read-only."""
        current = self.require_writable(session_id)
        changes: dict[str, Any] = {}
        if name is not UNSET:
            changes["name"] = check_text("name", name, MAX_NAME)
        if description is not UNSET:
            changes["description"] = check_text("description", description, MAX_DESCRIPTION)
        if tags is not UNSET:
            changes["tags"] = check_tags(tags)
        if metadata is not UNSET:
            changes["metadata"] = check_metadata(metadata)
        updated = replace(current, **changes, updated_at=datetime.now(UTC))
        self._write(current, updated)
        return self.get(updated.id)

    def transition(self, session_id: Any, action: str, note: str | None = None) -> str:
        """Apply `action` (suspend, resume, complete, fail, archive); the new status.

        `note` is the summary of `complete` or the reason of `fail`, kept in the metadata.
        """
        sources, target = TRANSITIONS[action]
        current = self.record(session_id)
        if current.status not in sources:
            raise InvalidState(
                f"cannot {action} session {current.id}: {current.status} -> {target} is not "
                f"allowed ({action} needs status {' or '.join(sources)})"
            )
        metadata = current.metadata
        if note is not None:
            note = check_text(NOTE_KEYS[action], note, MAX_DESCRIPTION)
        if action in END_ACTIONS:
            end = {
                "id": current.id,
                "name": current.name,
                "status": target,
                "previous_status": current.status,
                "metadata": metadata,
                END_ACTIONS[action]: note,
            }
            changes = _hook_changes("SessionEnd", end, self._run_hook("SessionEnd", end))
            metadata = check_metadata(changes["metadata"])
            note = check_text(NOTE_KEYS[action], changes[END_ACTIONS[action]], MAX_DESCRIPTION)
        if note is not None:
            metadata = {**metadata, NOTE_KEYS[action]: note}
        updated = replace(current, status=target, metadata=metadata, updated_at=datetime.now(UTC))
        self._write(current, updated)
        return target

    def _write(self, current: SessionRecord, updated: SessionRecord) -> None:
        if not self._store.update(updated, expected_status=current.status):
            now = self._store.get(current.id)
            if now is None:
                raise NotFound(f"no session {current.id} (deleted meanwhile)")
            raise InvalidState(
                f"session {current.id} changed from {current.status} to {now.status} meanwhile; "
                "nothing was written"
            )

    def require_writable(self, session_id: Any) -> SessionRecord:
        """The record of a session that may still change (InvalidState when archived)."""
        record = self.record(session_id)
        if record.status == READ_ONLY_STATUS:
            raise InvalidState(f"session {record.id} is archived (read-only)")
        return record

    def delete(self, session_id: Any) -> dict[str, int]:
        """Delete the session and everything kept for it; what each owner removed."""
        record = self.record(session_id)
        removed = {
            owner.__name__: self._infra.get(owner).delete_session_data(record.id)
            for owner in session_data_owners()
        }
        self._store.delete(record.id)
        with self._lock:
            if self._current == record.id:
                self._current = None
        return removed

    # --- replay -------------------------------------------------------------------------------

    def replay(
        self,
        session_id: Any,
        mode: str = "exact",
        stop_on_error: bool = False,
        compare_results: bool = False,
        timeout_s: float | None = None,
        modifications: tuple[session_replay.Modification, ...] = (),
    ) -> session_replay.ReplaySummary:
        """Replay the session's recorded hook executions (`llmspell.runtime.sessions.replay`)."""
        record = self.record(session_id)
        return session_replay.replay(
            self._hooks, record.id, mode, stop_on_error, compare_results, timeout_s, modifications
        )

    def can_replay(self, session_id: Any) -> bool:
        """Whether the session has recorded hook executions that can all be replayed now."""
        return session_replay.can_replay(self._hooks, self.record(session_id).id)

    def replay_metadata(self, session_id: Any) -> session_replay.ReplayMetadata:
        """What a replay of the session would work from."""
        return session_replay.metadata(self._hooks, self.record(session_id).id)

    # --- the current session --------------------------------------------------------------------

    @property
    def current(self) -> str | None:
        """This runtime's current session id (None when unset)."""
        return self._current

    def set_current(self, session_id: Any) -> str | None:
        """Make `session_id` (an existing session) current, or clear it with None."""
        checked = None if session_id is None else self.record(session_id).id
        with self._lock:
            self._current = checked
        return checked


def _hook_changes(point: str, before: dict[str, Any], after: Any) -> dict[str, Any]:
    """The data a hook handed back, if it changed only what `HOOK_CHANGES[point]` allows."""
    if not isinstance(after, dict):
        raise InvalidArgument(f"a {point} hook returned modified data that is not a table")
    allowed = HOOK_CHANGES[point]
    for key, value in before.items():
        if key not in allowed and after.get(key) != value:
            raise InvalidArgument(f"a {point} hook may change {', '.join(allowed)}, not {key}")
    return {key: after.get(key) for key in allowed if key in before}


def check_session_id(value: Any) -> str:
    """`value` as a canonical (lower-case, hyphenated) UUID string, else InvalidArgument."""
    if not isinstance(value, str):
        raise InvalidArgument(f"session id must be a UUID string, got {kind_of(value)}")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument(f"session id must be a UUID string, got {value!r}") from None


def check_text(what: str, value: Any, max_len: int) -> str | None:
    """Optional text (None stays None) of at most `max_len` characters, without NUL."""
    return None if value is None else require_text(what, value, max_len, allow_empty=True)


def require_text(what: str, value: Any, max_len: int, *, allow_empty: bool = False) -> str:
    """Text of at most `max_len` characters, without NUL (non-empty unless `allow_empty`)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} must be a string, got {kind_of(value)}")
    if not value and not allow_empty:
        raise InvalidArgument(f"{what} must be a non-empty string")
    if len(value) > max_len:
        raise InvalidArgument(f"{what} must be at most {max_len} characters, got {len(value)}")
    if "\x00" in value:
        raise InvalidArgument(f"{what} must not contain NUL characters")
    return value


def check_tags(value: Any) -> tuple[str, ...]:
    """A list of 1-64 character tags (duplicates dropped, order kept), at most 64."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, (list, tuple)):
        raise InvalidArgument(f"tags must be a list of strings, got {kind_of(value)}")
    if len(value) > MAX_TAGS:
        raise InvalidArgument(f"at most {MAX_TAGS} tags, got {len(value)}")
    return tuple(dict.fromkeys(require_text("tag", tag, MAX_TAG) for tag in value))


def check_metadata(value: Any) -> dict[str, Any]:
    """A JSON-able table of at most 64 KiB as JSON."""
    if value is None or value == []:
        return {}
    if not isinstance(value, dict):
        raise InvalidArgument(f"metadata must be a table with named fields, got {kind_of(value)}")
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"metadata cannot be stored as JSON: {exc}") from None
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(
            f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} bytes"
        )
    return value
