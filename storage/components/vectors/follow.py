"""What the vectors store keeps in process per namespace (the keyword index, the vector matrix)
follows the store's writes at the namespace's generation stamp: a write of this store moves
the kept structure along in place; one made elsewhere (another runtime) leaves a generation it
never saw, so the structure is dropped and rebuilt at its next use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection, select

from llmspell.storage.components.vectors.rows import Statements
from llmspell.storage.components.vectors.tables import vector_table
from llmspell.storage.tenancy import Tenant


class Followed(Protocol):
    """A structure kept for one namespace, at the generation it reflects."""

    generation: str

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> None: ...

    def remove(self, vector_ids: Iterable[str]) -> None: ...

    def set_metadata(self, vector_id: str, metadata: Mapping[str, Any]) -> None: ...


F = TypeVar("F", bound=Followed)


class NamespaceLoad:
    """Reads what a kept structure is built from: every row of one namespace as a mapping of
    id, `column` (content or embedding), document_id, metadata, event_time and expires_at."""

    def __init__(self, tenant: Tenant, statements: Statements, column: str) -> None:
        self._tenant = tenant
        self._statements = statements
        self._column = column

    def rows(self, conn: Connection, namespace: str, dimension: int) -> Iterator[dict[str, Any]]:
        """The rows, streamed (read while the caller's transaction is open)."""
        t = vector_table(dimension)
        column = self._column
        stmt = self._statements.get(
            (f"load_{column}", dimension),
            lambda: select(
                t.c.id,
                t.c[column],
                t.c.document_id,
                t.c["metadata"],
                t.c.event_time,
                t.c.expires_at,
            ).where(self._tenant.where(t, "namespace")),
        )
        return (
            {
                "id": vid,
                column: value,
                "document_id": document_id,
                "metadata": dict(meta or {}),
                "event_time": event_time,
                "expires_at": expires_at,
            }
            for vid, value, document_id, meta, event_time, expires_at in conn.execute(
                stmt, {"namespace": namespace}
            )
        )


class NamespaceFollower(Generic[F]):
    """The kept structures of one tenant's namespaces (`kept`), told about the store's writes
    (the `WriteFollower` calls), each under `lock` (the store's)."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.kept: dict[str, F] = {}

    def added(
        self,
        namespace: str,
        existed: bool,
        generations: tuple[str, str],
        dropped: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
    ) -> None:
        def change(kept: F) -> None:
            kept.remove(dropped)
            kept.add_rows(rows)

        self._advance(namespace, generations, change, existed)

    def metadata_set(
        self, namespace: str, generations: tuple[str, str], updates: Mapping[str, Any]
    ) -> None:
        def change(kept: F) -> None:
            for vid, meta in updates.items():
                kept.set_metadata(vid, meta)

        self._advance(namespace, generations, change)

    def removed(self, namespace: str, generations: tuple[str, str], ids: Sequence[str]) -> None:
        self._advance(namespace, generations, lambda kept: kept.remove(ids))

    def current(
        self,
        conn: Connection,
        namespace: str,
        row: Any,
        load: NamespaceLoad,
        make: Callable[[str], F],
    ) -> F:
        """The namespace's kept structure at the stored generation (`row`: its namespace
        row); made with `make(generation)` and filled from the table when missing or stale."""
        kept = self.kept.get(namespace)
        if kept is not None and kept.generation == row.generation:
            return kept
        kept = make(row.generation)
        kept.add_rows(load.rows(conn, namespace, int(row.dimension)))
        self.kept[namespace] = kept
        return kept

    def forget(self, namespaces: Iterable[str]) -> None:
        with self._lock:
            for namespace in namespaces:
                self.kept.pop(namespace, None)

    def _advance(
        self,
        namespace: str,
        generations: tuple[str, str],
        change: Callable[[F], None],
        existed: bool = True,
    ) -> None:
        """Apply `change` to the namespace's kept structure if it is at the write's old
        generation (then it is at the new one); drop it otherwise."""
        with self._lock:
            kept = self.kept.get(namespace)
            if kept is None:
                return
            old, new = generations
            if not existed or kept.generation != old:
                del self.kept[namespace]
                return
            change(kept)
            kept.generation = new
