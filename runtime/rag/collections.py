"""Session collections: a session's RAG chunks with a lifetime and a size cap, kept in the
session's own State scope (so deleting the session deletes the record), and the collections to
delete when the runtime closes (persist = false)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument
from llmspell.runtime.rag.records import SessionCollection
from llmspell.runtime.rag.scopes import SESSION_SCOPE, check_scope_id, collection
from llmspell.runtime.times import format_time, parse_time, ttl_seconds

if TYPE_CHECKING:
    from llmspell.storage.components.kv import KVStore
    from llmspell.storage.components.vectors import VectorStore

# Where a session collection's lifetime is kept: in the session's own State scope, so deleting
# the Session deletes it with the rest of the session's state.
COLLECTION_KEY = "rag.collection"


class SessionCollections:
    """The session collections of one tenant (stores opened on first use)."""

    def __init__(self, vectors: Callable[[], VectorStore], kv: Callable[[], KVStore]) -> None:
        self._vectors = vectors
        self._kv = kv
        # session collections to delete when the runtime closes (configure_session persist=false)
        self._transient: dict[str, tuple[VectorStore, KVStore]] = {}

    def create(
        self, session_id: str, ttl_s: float | None = None, max_vectors: int | None = None
    ) -> SessionCollection:
        """Give a session's collection a lifetime of `ttl_s` seconds from now (None: until the
        session or the collection is deleted): its chunks, present and future, expire then.
        `max_vectors` caps how many chunks it holds (an ingest past it is refused)."""
        if not isinstance(session_id, str) or not session_id:
            raise InvalidArgument("session_id must be a non-empty string")
        if max_vectors is not None and (
            isinstance(max_vectors, bool) or not isinstance(max_vectors, int) or max_vectors < 1
        ):
            raise InvalidArgument(f"max_vectors must be a positive integer, got {max_vectors!r}")
        target = collection(SESSION_SCOPE, session_id)
        assert target.scope_id is not None
        existed = self.get(target.scope_id) is not None or (
            self._vectors().namespace(target.namespace) is not None
        )
        expires_at = None
        if ttl_s is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=ttl_of(ttl_s))
        record = {
            "ttl_s": ttl_s,
            "expires_at": None if expires_at is None else format_time(expires_at),
            "created_at": format_time(datetime.now(UTC)),
            "max_vectors": max_vectors,
        }
        self._kv().put(target.namespace, COLLECTION_KEY, record)
        self._vectors().set_expiry(target.namespace, expires_at)
        return SessionCollection(target.scope_id, ttl_s, expires_at, max_vectors, not existed)

    def get(self, session_id: str) -> SessionCollection | None:
        """A session's live collection record (None when there is none or it expired)."""
        scope_id = check_scope_id(SESSION_SCOPE, session_id)
        record = self._kv().get(f"{SESSION_SCOPE}:{scope_id}", COLLECTION_KEY)
        if not isinstance(record, dict):
            return None
        expires_at = record.get("expires_at")
        moment = None if expires_at is None else parse_time("collection", "expires_at", expires_at)
        if moment is not None and moment <= datetime.now(UTC):
            return None
        return SessionCollection(
            scope_id, record.get("ttl_s"), moment, record.get("max_vectors"), created=False
        )

    def keep(self, session_id: str, persist: bool) -> None:
        """persist=False: delete the session's collection when this runtime closes."""
        namespace = collection(SESSION_SCOPE, session_id).namespace
        if persist:
            self._transient.pop(namespace, None)
        else:
            self._transient[namespace] = (self._vectors(), self._kv())

    def close(self) -> None:
        # the stores were taken while storage was open: at close it can no longer be opened
        for namespace, (vectors, kv) in self._transient.items():
            vectors.delete_namespace(namespace)
            kv.delete(namespace, COLLECTION_KEY)
        self._transient.clear()


def ttl_of(ttl_s: Any) -> float:
    """A lifetime in seconds from a script's `ttl`: positive, at most 100 years."""
    return ttl_seconds("ttl_s", ttl_s, zero_is_never=False)
