"""ArtifactManager: the rules of artifacts (which session, which names, types, files and sizes)
over the content-addressed artifacts store. It keeps data per session, so deleting a session
deletes its artifacts (the artifacts component names it as its session-data owner)."""

from __future__ import annotations

import builtins
import mimetypes
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, NotFound, kind_of
from llmspell.runtime.sessions import (
    MAX_TAG,
    SessionManager,
    check_metadata,
    check_session_id,
    check_tags,
    check_text,
    require_text,
)
from llmspell.runtime.tools.paths import resolve_allowed_path
from llmspell.storage.values import MAX_INTEGER, shown

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.storage.components.artifacts import ArtifactQuery, ArtifactRecord, ArtifactStore
    from llmspell.storage.components.artifacts.content import ContentLike, Writable

KNOWN_TYPES = ("agent_output", "tool_result", "user_input", "system_generated")
TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MIME_PATTERN = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;.*)?$")
MAX_NAME = 256


@dataclass(frozen=True)
class ArtifactContent:
    """An artifact's record and its bytes."""

    record: ArtifactRecord
    content: bytes


class ArtifactManager:
    """Artifacts of one tenant's sessions."""

    def __init__(self, infra: Infrastructure) -> None:
        self._infra = infra

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> ArtifactManager:
        return cls(infra)

    @property
    def _store(self) -> ArtifactStore:
        store: ArtifactStore = self._infra.storage.artifacts
        return store

    @property
    def _sessions(self) -> SessionManager:
        return self._infra.get(SessionManager)

    def store(
        self,
        session_id: Any,
        type: Any,
        name: Any,
        content: ContentLike,
        *,
        mime_type: Any = None,
        tags: Any = (),
        metadata: Any = None,
        created_by: Any = None,
    ) -> ArtifactRecord:
        """Store `content` (bytes or text; a `Content` source for streams) in a session that
        is not archived; the same name again is its next version."""
        if not isinstance(content, (bytes, bytearray, memoryview, str)) and not hasattr(
            content, "chunks"
        ):
            raise InvalidArgument(f"content must be a string, got {kind_of(content)}")
        session = self._sessions.require_writable(session_id)
        name = check_name(name)
        # Imported here: storage modules load SQLAlchemy, which building a runtime must not.
        from llmspell.storage.components.artifacts import NewArtifact

        artifact = NewArtifact(
            session_id=session.id,
            name=name,
            type=check_type(type),
            mime_type=check_mime(mime_type) or mimetypes.guess_type(name, strict=False)[0],
            tags=check_tags(tags),
            metadata=check_metadata(metadata),
            created_by=check_text("created_by", created_by, MAX_NAME),
        )
        return self._store.store(artifact, content)

    def store_file(
        self,
        session_id: Any,
        path: Any,
        type: Any,
        *,
        name: Any = None,
        mime_type: Any = None,
        tags: Any = (),
        metadata: Any = None,
        created_by: Any = None,
    ) -> ArtifactRecord:
        """Store a file inside `tools.allowed_paths` (the file tool's rule, checked on its real
        path by `resolve_allowed_path`), read in chunks; named after the file unless `name` is
        given."""
        from llmspell.storage.components.artifacts import FileContent

        roots = self._infra.config.tools.allowed_paths
        real = resolve_allowed_path(path, roots)
        if not real.is_file():
            raise InvalidArgument(f"{str(path)!r} is not a readable file")
        return self.store(
            session_id,
            type,
            real.name if name is None else name,
            FileContent(real),
            mime_type=mime_type,
            tags=tags,
            metadata=metadata,
            created_by=created_by,
        )

    def get(self, session_id: Any, sequence: Any, content_hash: Any = None) -> ArtifactContent:
        """An artifact and its bytes; `content_hash`, when given, must be the artifact's."""
        record = self.record(session_id, sequence, content_hash)
        return ArtifactContent(record, self._read(record))

    def record(self, session_id: Any, sequence: Any, content_hash: Any = None) -> ArtifactRecord:
        sid = check_session_id(session_id)
        number = check_sequence(sequence)
        record = self._store.get(sid, number)
        if record is None or (content_hash is not None and record.content_hash != content_hash):
            raise NotFound(f"no artifact {number} in session {sid}")
        return record

    def get_version(self, session_id: Any, name: Any, version: Any = None) -> ArtifactContent:
        """The given version of a name (the latest when `version` is None) and its bytes."""
        sid = check_session_id(session_id)
        name = check_name(name)
        if version is not None and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            raise InvalidArgument(f"version must be a positive integer, got {version!r}")
        record = self._store.get_version(sid, name, version)
        if record is None:
            which = "any version" if version is None else f"version {version}"
            raise NotFound(f"no artifact {name!r} ({which}) in session {sid}")
        return ArtifactContent(record, self._read(record))

    def _read(self, record: ArtifactRecord) -> bytes:
        content = self._store.read(record.session_id, record.sequence)
        if content is None:
            raise NotFound(f"artifact {record.sequence} of session {record.session_id} is gone")
        return content

    def copy_to(self, session_id: Any, sequence: Any, out: Writable) -> int:
        """Write an artifact's bytes to `out` (a binary file...) chunk by chunk, never holding
        them whole; how many bytes."""
        record = self.record(session_id, sequence)
        written = self._store.read_into(record.session_id, record.sequence, out)
        if written is None:
            raise NotFound(f"artifact {record.sequence} of session {record.session_id} is gone")
        return written

    def list(self, session_id: Any) -> list[ArtifactRecord]:
        """A session's artifacts in sequence order."""
        return self._store.list(self._sessions.record(session_id).id)

    def query(self, query: ArtifactQuery) -> builtins.list[ArtifactRecord]:
        """Artifacts matching `query`, newest first, across sessions unless it names one."""
        if query.session_id is not None:
            check_session_id(query.session_id)
        if query.type is not None:
            check_type(query.type)
        for tag in query.tags:
            require_text("tag", tag, MAX_TAG)
        return self._store.query(query)

    def delete(self, session_id: Any, sequence: Any, content_hash: Any = None) -> bool:
        """Delete an artifact of a session that is not archived (its bytes go with the last
        artifact that holds them)."""
        record = self.record(session_id, sequence, content_hash)
        self._sessions.require_writable(record.session_id)
        if not self._store.delete(record.session_id, record.sequence):
            raise NotFound(f"no artifact {record.sequence} in session {record.session_id}")
        return True

    def delete_session_data(self, session_id: str) -> int:
        """Every artifact of the session (the session-delete cascade)."""
        return self._store.delete_session(session_id)


def check_name(value: Any) -> str:
    name = require_text("name", value, MAX_NAME)
    if "\r" in name or "\n" in name:
        raise InvalidArgument(f"name must not contain line breaks, got {name!r}")
    return name


def check_type(value: Any) -> str:
    if not isinstance(value, str) or not TYPE_PATTERN.match(value):
        given = shown(value) if isinstance(value, str) else kind_of(value)
        raise InvalidArgument(
            f"type must be one of {', '.join(KNOWN_TYPES)} or a custom name of 1-64 "
            f"characters from A-Z a-z 0-9 _ . : -, got {given}"
        )
    return value


def check_mime(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not MIME_PATTERN.match(value):
        given = shown(value) if isinstance(value, str) else kind_of(value)
        raise InvalidArgument(f"mime_type must look like type/subtype (text/plain), got {given}")
    return value


def check_sequence(value: Any) -> int:
    integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral or not 1 <= value <= MAX_INTEGER:
        raise InvalidArgument(
            f"artifact sequence must be an integer from 1 to {MAX_INTEGER}, got {shown(value)}"
        )
    return int(value)
