"""Episodic memory: what was said in each session, searched by meaning and keywords.

Entries are vectors of the `episodic` namespace: the session id is their document id, the role,
the processed flag and the caller's metadata are their metadata, the time it happened is their
event time. Search is `HybridSearch` within one session, or across all of the tenant's sessions
when the session id is "".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, NotFound
from llmspell.runtime.memory.recall import ConversationRecall
from llmspell.storage.components.vectors import NewVector, VectorFilter, VectorRecord
from llmspell.storage.values import refuse_nul

if TYPE_CHECKING:
    from llmspell.runtime.embeddings import Embedder
    from llmspell.runtime.retrieval import HybridSearch
    from llmspell.runtime.retrieval.hybrid import SearchMode
    from llmspell.storage.components.vectors import VectorStore

NAMESPACE = "episodic"
MAX_ROLE_LEN = 64
MAX_SESSION_LEN = 256


@dataclass(frozen=True)
class NewTurn:
    """A turn to remember (`EpisodicMemory.add_batch`); `timestamp`: when it happened."""

    session_id: str
    role: str
    content: str
    metadata: Mapping[str, Any] | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True)
class EpisodicEntry:
    """One remembered exchange turn (`score` only on search results)."""

    id: str
    session_id: str
    role: str
    content: str
    timestamp: datetime
    ingestion_time: datetime
    metadata: dict[str, Any]
    processed: bool
    score: float | None = None


def entry_of(record: VectorRecord, score: float | None = None) -> EpisodicEntry:
    meta = record.metadata
    return EpisodicEntry(
        id=record.id,
        session_id=record.document_id or "",
        role=str(meta.get("role", "")),
        content=record.content,
        timestamp=record.event_time or record.created_at,
        ingestion_time=record.created_at,
        metadata=dict(meta.get("metadata") or {}),
        processed=bool(meta.get("processed", False)),
        score=score,
    )


def check_session_id(session_id: Any, *, allow_all: bool = False) -> str:
    if not isinstance(session_id, str):
        raise InvalidArgument(f"session_id must be a string, got {session_id!r}")
    if not session_id and not allow_all:
        raise InvalidArgument("session_id must be a non-empty string")
    if len(session_id) > MAX_SESSION_LEN:
        raise InvalidArgument(f"session_id must be at most {MAX_SESSION_LEN} characters")
    refuse_nul("session_id", session_id)
    return session_id


class EpisodicMemory:
    """Add, search, list and forget episodic entries of one tenant."""

    def __init__(
        self, vectors: Callable[[], VectorStore], embedder: Embedder, search: HybridSearch
    ) -> None:
        self._vectors = vectors
        self._embedder = embedder
        self._search = search
        self._recall = ConversationRecall(NAMESPACE, vectors, search)

    def add(
        self,
        session_id: str,
        role: str,
        content: str,
        metadata: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> str:
        """Remember one turn; returns its id."""
        turn = self._checked(NewTurn(session_id, role, content, metadata, timestamp))
        [entry_id] = self._store([turn], datetime.now(UTC))
        return entry_id

    def add_batch(self, turns: Sequence[NewTurn]) -> list[str]:
        """Remember many turns with one embedding call and one write; returns their ids in
        order. All or nothing: a bad turn stores none and the error names it (`turn 3: ...`).
        Turns without a timestamp happened now, in list order."""
        if isinstance(turns, str | bytes) or not isinstance(turns, Sequence):
            raise InvalidArgument(f"turns must be a list of turns, got {turns!r}")
        checked = []
        for i, turn in enumerate(turns, start=1):
            if not isinstance(turn, NewTurn):
                raise InvalidArgument(f"turn {i} must be a NewTurn, got {turn!r}")
            try:
                checked.append(self._checked(turn))
            except ValueError as error:  # InvalidArgument, or storage's refusal of a NUL
                raise InvalidArgument(f"turn {i}: {error}") from None
        return self._store(checked, datetime.now(UTC)) if checked else []

    def _checked(self, turn: NewTurn) -> NewTurn:
        check_session_id(turn.session_id)
        role, content, metadata = turn.role, turn.content, turn.metadata
        if not isinstance(role, str) or not role or len(role) > MAX_ROLE_LEN:
            raise InvalidArgument(f"role must be a string of 1-{MAX_ROLE_LEN} characters")
        if not isinstance(content, str) or not content.strip():
            raise InvalidArgument("content must be a non-empty string")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidArgument(f"metadata must be a table, got {metadata!r}")
        if turn.timestamp is not None and (
            not isinstance(turn.timestamp, datetime) or turn.timestamp.tzinfo is None
        ):
            raise InvalidArgument(
                f"timestamp must be a timezone-aware datetime, got {turn.timestamp!r}"
            )
        for what, value in (("role", role), ("content", content), ("metadata", metadata)):
            refuse_nul(what, value)
        self._embedder.limits.check_size("content", len(content))
        return turn

    def _store(self, turns: list[NewTurn], now: datetime) -> list[str]:
        embeddings = self._embedder.embed([turn.content for turn in turns])
        vectors = [
            NewVector(
                embedding=embedding,
                content=turn.content,
                document_id=turn.session_id,
                metadata={
                    "role": turn.role,
                    "processed": False,
                    "metadata": dict(turn.metadata or {}),
                },
                # a microsecond apart: a session lists its turns by time, in the order given
                event_time=turn.timestamp or now + timedelta(microseconds=i),
            )
            for i, (turn, embedding) in enumerate(zip(turns, embeddings, strict=True))
        ]
        ids = self._vectors().add(NAMESPACE, self._embedder.model, vectors)
        for turn in turns:
            self._recall.remember_speaker(turn.role)
        return ids

    def search(
        self,
        session_id: str,
        query: str,
        limit: int = 10,
        *,
        min_score: float | None = None,
        role: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        mode: SearchMode = "hybrid",
        rerank: bool = False,
    ) -> list[EpisodicEntry]:
        """Entries ranked by relevance to `query` (score in [0, 1], best first), within
        `session_id` or, when it is "", across every session.

        The query is read for what a conversation carries (`runtime.memory.recall`): a name
        that is some entry's role (the speaker), a month, year or date, "before"/"after" a
        date or an event; entries meeting these rank first. `role`, `since` and `until` are
        hard filters. `rerank` adds a second stage that aligns the query's words with each
        candidate's (`runtime.retrieval.rerank`)."""
        if not isinstance(rerank, bool):
            raise InvalidArgument(f"rerank must be true or false, got {rerank!r}")
        session_id = check_session_id(session_id, allow_all=True)
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgument("query must be a non-empty string")
        if since is not None and until is not None and until < since:
            raise InvalidArgument("until must not be before since")
        where = VectorFilter(
            document_ids=frozenset({session_id}) if session_id else None,
            metadata={"role": role} if role is not None else None,
            since=since,
            until=until,
        )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise InvalidArgument(f"limit must be a non-negative integer, got {limit!r}")
        if limit == 0:
            return []
        found = self._recall.search(
            query,
            limit,
            where,
            mode=mode,
            min_score=min_score,
            speakers_known=role is not None,
            rerank=rerank,
        )
        return [entry_of(record, score) for record, score in found]

    def get(self, entry_id: str) -> EpisodicEntry:
        found = [r for r in self._vectors().get([entry_id]) if r.namespace == NAMESPACE]
        if not found:
            raise NotFound(f"no episodic entry {entry_id!r}")
        return entry_of(found[0])

    def session(self, session_id: str, limit: int | None = None) -> list[EpisodicEntry]:
        """The session's entries in the order they happened (the first `limit`)."""
        where = VectorFilter(document_ids=frozenset({check_session_id(session_id)}))
        return [entry_of(r) for r in self._vectors().scan(NAMESPACE, where, limit)]

    def delete(self, entry_id: str) -> bool:
        if not [r for r in self._vectors().get([entry_id]) if r.namespace == NAMESPACE]:
            return False
        return self._vectors().delete([entry_id]) > 0

    def forget(self, session_id: str | None = None, before: datetime | None = None) -> int:
        """Delete the entries of `session_id` (all sessions when None) that happened before
        `before` (any time when None); returns how many."""
        where = VectorFilter(
            document_ids=frozenset({check_session_id(session_id)}) if session_id else None,
            until=before - timedelta(microseconds=1) if before is not None else None,
        )
        if where.is_empty:
            return self._vectors().delete_namespace(NAMESPACE)
        return self._vectors().delete_where(NAMESPACE, where)

    def unprocessed(self, session_id: str | None = None) -> list[EpisodicEntry]:
        """Entries consolidation has not processed yet, oldest first."""
        where = VectorFilter(
            document_ids=frozenset({session_id}) if session_id else None,
            metadata={"processed": False},
        )
        return [entry_of(r) for r in self._vectors().scan(NAMESPACE, where)]

    def mark_processed(self, entries: list[EpisodicEntry]) -> int:
        updates = {
            e.id: {"role": e.role, "processed": True, "metadata": e.metadata} for e in entries
        }
        return self._vectors().set_metadata(NAMESPACE, updates)

    def count(self) -> int:
        return self._vectors().count(NAMESPACE)

    def sessions_with_unprocessed(self) -> int:
        return len({e.session_id for e in self.unprocessed()})


__all__ = [
    "NAMESPACE",
    "EpisodicEntry",
    "EpisodicMemory",
    "NewTurn",
    "check_session_id",
    "entry_of",
]
