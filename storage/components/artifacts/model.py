"""What the artifacts store takes and returns: settings, records, queries, integrity findings,
and the `ArtifactStore` Protocol the runtime programs against."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from llmspell.storage.values import refuse_nul

if TYPE_CHECKING:
    from llmspell.storage.components.artifacts.content import ContentLike, Writable

MiB = 1024 * 1024


@dataclass(frozen=True)
class ArtifactSettings:
    """Limits and layout (config: `storage.max_artifact_mb`).

    Bodies are written and read `chunk_bytes` at a time, one chunk row each.
    """

    max_bytes: int = 100 * MiB
    chunk_bytes: int = MiB

    def __post_init__(self) -> None:
        for name in ("max_bytes", "chunk_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class NewArtifact:
    """The description of an artifact to store (its content is passed beside it)."""

    session_id: str
    name: str
    type: str
    mime_type: str | None = None  # None: text/plain for UTF-8 text, else application/octet-stream
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    created_by: str | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """One stored artifact: `(session_id, sequence)` names it; `content_hash` is the sha256
    (hex) of its bytes, shared with every other artifact of the tenant holding the same bytes."""

    session_id: str
    sequence: int
    content_hash: str
    name: str
    version: int
    type: str
    mime_type: str
    size: int
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    created_at: datetime  # timezone-aware, UTC
    created_by: str | None


@dataclass(frozen=True)
class ArtifactQuery:
    """Filters of `ArtifactStore.query` (all optional; every one given must match)."""

    session_id: str | None = None
    type: str | None = None
    name: str | None = None  # a glob: `report*`
    tags: tuple[str, ...] = ()  # artifacts carrying all of these tags
    created_after: datetime | None = None  # inclusive
    created_before: datetime | None = None  # exclusive
    min_size: int | None = None
    max_size: int | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        for name in ("min_size", "max_size", "limit"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value}")
        for name in ("session_id", "type", "name", "tags"):
            refuse_nul(name, getattr(self, name))


@dataclass(frozen=True)
class IntegrityProblem:
    """One finding of an integrity check.

    kind: `hash_mismatch` (the body's sha256 or size differs from its content row),
    `missing_body` (some of the content row's chunks are gone), `ref_count` (the stored
    count differs from the artifacts that reference the content), `orphaned_chunks` (chunk
    rows without a content row).
    """

    kind: str
    content_hash: str | None
    detail: str


class ArtifactStore(Protocol):
    """Content-addressed artifacts of one tenant, with versions per (session, name)."""

    def store(self, artifact: NewArtifact, content: ContentLike) -> ArtifactRecord:
        """Store `content` (bytes, text, or a `Content` source read in chunks) as the next
        sequence of the session and the next version of the name; identical bytes are kept
        once per tenant (a reference more on the existing content)."""
        ...

    def get(self, session_id: str, sequence: int) -> ArtifactRecord | None: ...

    def get_version(
        self, session_id: str, name: str, version: int | None = None
    ) -> ArtifactRecord | None:
        """The given version of a name in a session, or its latest when `version` is None."""
        ...

    def read(self, session_id: str, sequence: int) -> bytes | None:
        """The artifact's bytes (held once: assembled in place, chunk by chunk)."""
        ...

    def read_into(self, session_id: str, sequence: int, out: Writable) -> int | None:
        """Write the artifact's bytes to `out` chunk by chunk; how many (None: no artifact)."""
        ...

    def list(self, session_id: str) -> list[ArtifactRecord]:
        """The session's artifacts in sequence order."""
        ...

    def query(self, query: ArtifactQuery) -> builtins.list[ArtifactRecord]:
        """Matching artifacts, newest first, across sessions unless `query.session_id`."""
        ...

    def delete(self, session_id: str, sequence: int) -> bool:
        """Delete one artifact; its content goes with the last reference."""
        ...

    def delete_session(self, session_id: str) -> int:
        """Delete every artifact of a session (content with its last reference); how many."""
        ...

    def count_by_session(self, session_ids: Sequence[str]) -> dict[str, int]:
        """How many artifacts each of `session_ids` holds (0 included)."""
        ...

    def check_integrity(self) -> builtins.list[IntegrityProblem]:
        """This tenant's hash mismatches, missing bodies, wrong reference counts and orphaned
        chunk rows."""
        ...


def check_new_artifact(artifact: NewArtifact) -> None:
    """ValueError naming the first field of `artifact` that cannot be stored."""
    for name in ("session_id", "name", "type"):
        value = getattr(artifact, name)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if artifact.mime_type is not None and (
        not isinstance(artifact.mime_type, str) or not artifact.mime_type
    ):
        raise ValueError(f"mime_type must be a non-empty string, got {artifact.mime_type!r}")
    if not all(isinstance(tag, str) and tag for tag in artifact.tags):
        raise ValueError(f"tags must be non-empty strings, got {list(artifact.tags)!r}")
    if not isinstance(artifact.metadata, dict):
        raise ValueError(f"metadata must be a dict, got {type(artifact.metadata).__name__}")
    for name in ("session_id", "name", "type", "mime_type", "tags", "metadata", "created_by"):
        refuse_nul(name, getattr(artifact, name))
