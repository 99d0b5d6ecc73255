"""Exact vector search for SQLite and memory: one in-process numpy matrix per namespace.

The vectors component keeps a `NamespaceMatrix` per (dimension, namespace) of its tenant, loaded
once from the table and then kept in step with every insert and delete the store makes, so a
search never re-reads the table. A search is one matrix-vector product over unit rows plus a
boolean mask for the filters (`VectorFilter`), then a partial sort.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from llmspell.storage.values import json_equal, refuse_nul

# An absent time as a float timestamp: never expires / no event time.
NEVER = float("inf")
NO_TIME = float("nan")


@dataclass(frozen=True)
class VectorFilter:
    """Which vectors a search, scan, count or delete covers (all given conditions hold).

    `document_ids`: the vector's document/source id is one of these. `metadata`: every key
    equals the given value (exact JSON equality). `since` / `until`: its `event_time` lies in
    `[since, until]` (a vector without event time never matches a time bound).
    """

    document_ids: frozenset[str] | None = None
    metadata: Mapping[str, Any] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.document_ids is not None and not isinstance(self.document_ids, frozenset):
            object.__setattr__(self, "document_ids", frozenset(self.document_ids))
        refuse_nul("document ids", list(self.document_ids or ()))
        refuse_nul("metadata filter", self.metadata)

    @property
    def is_empty(self) -> bool:
        return (
            self.document_ids is None
            and not self.metadata
            and self.since is None
            and self.until is None
        )

    def matches(
        self, document_id: str | None, metadata: Mapping[str, Any], event_time: datetime | None
    ) -> bool:
        """Whether one vector with these attributes passes the filter."""
        if self.document_ids is not None and document_id not in self.document_ids:
            return False
        if self.since is not None and (event_time is None or event_time < self.since):
            return False
        if self.until is not None and (event_time is None or event_time > self.until):
            return False
        return self.matches_metadata(metadata)

    def matches_metadata(self, metadata: Mapping[str, Any]) -> bool:
        """Whether a vector's metadata holds every key/value of this filter."""
        if not self.metadata:
            return True
        return all(
            key in metadata and json_equal(metadata[key], value)
            for key, value in self.metadata.items()
        )


def timestamp(moment: datetime | None, absent: float) -> float:
    return absent if moment is None else moment.timestamp()


def passing(
    where: VectorFilter | None,
    now: datetime,
    expires: np.ndarray,
    events: np.ndarray,
    doc_codes: np.ndarray,
    doc_code_of: Mapping[str | None, int],
    metadata: Sequence[Mapping[str, Any]] | None,
) -> np.ndarray:
    """Which of some rows are live (not expired) and pass `where`, given their columns:
    expiry and event times as timestamps, document codes (`doc_code_of` maps a document id to
    its code) and metadata (needed only when `where` filters on metadata)."""
    keep = expires > now.timestamp()
    if where is None or where.is_empty:
        return keep
    if where.document_ids is not None:
        codes = [doc_code_of[d] for d in where.document_ids if d in doc_code_of]
        keep &= np.isin(doc_codes, np.asarray(codes, dtype=np.int64))
    if where.since is not None:
        keep &= events >= where.since.timestamp()  # NaN (no event time) compares False
    if where.until is not None:
        keep &= events <= where.until.timestamp()
    if where.metadata:
        assert metadata is not None
        for row in np.flatnonzero(keep):
            if not where.matches_metadata(metadata[int(row)]):
                keep[row] = False
    return keep


class NamespaceMatrix:
    """The unit vectors of one namespace with what filters need, in insertion slots.

    Rows are kept dense: a delete moves the last row into the hole. `generation` is the
    namespace's generation stamp the matrix reflects (see the vectors component).
    """

    def __init__(self, dimension: int, generation: str) -> None:
        self.dimension = dimension
        self.generation = generation
        self.size = 0
        self._matrix = np.zeros((16, dimension), dtype=np.float32)
        self._expires = np.full(16, NEVER)
        self._event = np.full(16, NO_TIME)
        self._doc_codes = np.zeros(16, dtype=np.int64)
        self._doc_code_of: dict[str | None, int] = {None: 0}
        self.ids: list[str] = []
        self.metadata: list[Mapping[str, Any]] = []
        self._slot: dict[str, int] = {}

    def __len__(self) -> int:
        return self.size

    def __contains__(self, vector_id: str) -> bool:
        return vector_id in self._slot

    def _grow(self, needed: int) -> None:
        capacity = len(self._matrix)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        grown = np.zeros((capacity, self.dimension), dtype=np.float32)
        grown[: self.size] = self._matrix[: self.size]
        self._matrix = grown
        for name, fill in (("_expires", NEVER), ("_event", NO_TIME)):
            array = np.full(capacity, fill)
            array[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, array)
        codes = np.zeros(capacity, dtype=np.int64)
        codes[: self.size] = self._doc_codes[: self.size]
        self._doc_codes = codes

    def add(
        self,
        vector_id: str,
        embedding: np.ndarray,
        *,
        document_id: str | None,
        metadata: Mapping[str, Any],
        event_time: datetime | None,
        expires_at: datetime | None,
    ) -> None:
        """Add (or replace) one vector."""
        if vector_id in self._slot:
            self.remove([vector_id])
        self._grow(self.size + 1)
        slot = self.size
        norm = float(np.linalg.norm(embedding))
        self._matrix[slot] = embedding / norm if norm > 0 else embedding
        self._expires[slot] = timestamp(expires_at, NEVER)
        self._event[slot] = timestamp(event_time, NO_TIME)
        code = self._doc_code_of.setdefault(document_id, len(self._doc_code_of))
        self._doc_codes[slot] = code
        self.ids.append(vector_id)
        self.metadata.append(metadata)
        self._slot[vector_id] = slot
        self.size += 1

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Add (or replace) rows: mappings with id, embedding, document_id, metadata,
        event_time and expires_at."""
        for row in rows:
            self.add(
                row["id"],
                row["embedding"],
                document_id=row["document_id"],
                metadata=row["metadata"],
                event_time=row["event_time"],
                expires_at=row["expires_at"],
            )

    def remove(self, vector_ids: Iterable[str]) -> None:
        """Drop vectors (unknown ids are ignored: they were never in this namespace)."""
        for vector_id in vector_ids:
            slot = self._slot.pop(vector_id, None)
            if slot is None:
                continue
            last = self.size - 1
            if slot != last:
                moved = self.ids[last]
                self._matrix[slot] = self._matrix[last]
                self._expires[slot] = self._expires[last]
                self._event[slot] = self._event[last]
                self._doc_codes[slot] = self._doc_codes[last]
                self.ids[slot] = moved
                self.metadata[slot] = self.metadata[last]
                self._slot[moved] = slot
            self.ids.pop()
            self.metadata.pop()
            self.size -= 1

    def set_metadata(self, vector_id: str, metadata: Mapping[str, Any]) -> None:
        slot = self._slot.get(vector_id)
        if slot is not None:
            self.metadata[slot] = metadata

    def mask(self, where: VectorFilter | None, now: datetime) -> np.ndarray:
        """Which rows are live (not expired) and pass `where`."""
        n = self.size
        return passing(
            where,
            now,
            self._expires[:n],
            self._event[:n],
            self._doc_codes[:n],
            self._doc_code_of,
            self.metadata,
        )

    def search(
        self, query: np.ndarray, k: int, where: VectorFilter | None, now: datetime
    ) -> list[tuple[str, float]]:
        """The `k` best (id, cosine similarity) among rows passing `where`, best first."""
        n = self.size
        if n == 0 or k <= 0:
            return []
        norm = float(np.linalg.norm(query))
        unit = (query / norm if norm > 0 else query).astype(np.float32, copy=False)
        scores = self._matrix[:n] @ unit
        keep = self.mask(where, now)
        candidates = np.flatnonzero(keep)
        if len(candidates) == 0:
            return []
        chosen = scores[candidates]
        if len(candidates) > k:
            top = np.argpartition(-chosen, k - 1)[:k]
            candidates, chosen = candidates[top], chosen[top]
        order = np.argsort(-chosen, kind="stable")
        return [(self.ids[int(candidates[i])], float(chosen[i])) for i in order]

    def scores_of(self, query: np.ndarray, vector_ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of `query` with each of `vector_ids` present here."""
        norm = float(np.linalg.norm(query))
        unit = (query / norm if norm > 0 else query).astype(np.float32, copy=False)
        slots = [(vid, self._slot[vid]) for vid in vector_ids if vid in self._slot]
        if not slots:
            return {}
        values = self._matrix[[slot for _, slot in slots]] @ unit
        return {vid: float(value) for (vid, _), value in zip(slots, values, strict=True)}
