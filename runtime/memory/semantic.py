"""Semantic memory: the bi-temporal graph of entities and relationships, as scripts use it.

The versioning rules are the graph component's (`storage/bitemporal.py`); this adds what a
caller needs:
unknown ids are `NotFound`, the text form of `query` ranks matches by BM25 over name, type and
property values (an exact name first), and lookups default to now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument, NotFound
from llmspell.runtime.host_limits import UNLIMITED, HostLimits, text_slices
from llmspell.runtime.retrieval.keyword import KeywordIndex, keyword_tokens
from llmspell.storage.components.graph import (
    MAX_DEPTH,
    EntityVersion,
    Neighbourhood,
    RelationshipVersion,
)

if TYPE_CHECKING:
    from llmspell.storage.components.graph import Direction, GraphStore

# How many entities the text form looks at before ranking (the SQL pre-filter's cap).
TEXT_CANDIDATES = 500
# How many words of the text the pre-filter looks for: one LIKE each, OR-ed (SQLite refuses
# expressions 1,000 deep; a long text's every word took minutes, then that error).
MAX_TEXT_WORDS = 256


class SemanticMemory:
    """Entities, relationships, history and traversal of one tenant's graph."""

    def __init__(self, graph: Callable[[], GraphStore], limits: HostLimits = UNLIMITED) -> None:
        self._graph = graph
        self._limits = limits  # of the script a search works for: the text can be long

    def _known(self, entity_id: str) -> str:
        if not isinstance(entity_id, str) or not entity_id:
            raise InvalidArgument(f"entity id must be a non-empty string, got {entity_id!r}")
        if not self._graph().entity_exists(entity_id):
            raise NotFound(f"no entity {entity_id!r}")
        return entity_id

    def add_entity(
        self,
        name: str,
        type: str,
        properties: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        """The id of the entity called `name` (any case) of `type`: an existing current one
        (its properties merged from `valid_from` on where they differ, so adding the same facts
        again, as a re-run notebook does, leaves one entity and no new version), else a new one."""
        wanted = dict(properties or {})
        existing = self.find_one(name, type) if isinstance(name, str) and name else None
        if existing is None:
            return self._graph().add_entity(name, type, wanted, valid_from, valid_to)
        graph = self._graph()
        then = graph.get_entity(existing.id, as_of=valid_from) if valid_from else existing
        held = then.properties if then is not None else {}
        if any(key not in held or held[key] != value for key, value in wanted.items()):
            graph.update_entity(existing.id, wanted, valid_from)
        return existing.id

    def update_entity(
        self, entity_id: str, properties: Mapping[str, Any], valid_from: datetime | None = None
    ) -> EntityVersion:
        """Merge `properties` into the entity from `valid_from` (default now) on."""
        version = self._graph().update_entity(self._known(entity_id), properties, valid_from)
        if version is None:
            when = valid_from.isoformat() if valid_from else "now"
            raise NotFound(
                f"entity {entity_id!r} is not valid at or after {when}; nothing to update"
            )
        return version

    def delete_entity(self, entity_id: str, at: datetime | None = None) -> bool:
        return self._graph().delete_entity(self._known(entity_id), at)

    def get_entity(
        self, entity_id: str, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> EntityVersion | None:
        """The version true at `as_of` as recorded by `known_at`; None when the entity was not
        valid then; `NotFound` for an id never recorded."""
        return self._graph().get_entity(self._known(entity_id), as_of, known_at)

    def history(self, entity_id: str) -> list[EntityVersion]:
        return self._graph().entity_history(self._known(entity_id))

    def add_relationship(
        self,
        from_id: str,
        to_id: str,
        type: str,
        properties: Mapping[str, Any] | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        self._known(from_id)
        self._known(to_id)
        return self._graph().add_relationship(
            from_id, to_id, type, properties or {}, valid_from, valid_to
        )

    def relationships(
        self, entity_id: str, direction: Direction = "out", type: str | None = None
    ) -> list[RelationshipVersion]:
        return self._graph().relationships(self._known(entity_id), direction, type)

    def close_relationship(self, relationship_id: str, at: datetime | None = None) -> bool:
        return self._graph().delete_relationship(relationship_id, at)

    def query(
        self,
        type: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        limit: int | None = None,
    ) -> list[EntityVersion]:
        return self._graph().find_entities(type, name, properties, as_of, known_at, limit)

    def search(self, text: str, limit: int = 10) -> list[tuple[EntityVersion, float]]:
        """Entities whose name, type or property values match the words of `text`, best
        first, with a score in [0, 1] (an exact name match scores 1)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument("text must be a non-empty string")
        words = sorted(self._words(text))
        candidates = self._graph().find_entities(containing=words, limit=TEXT_CANDIDATES)
        if not candidates:
            return []
        documents = [_describe(e) for e in candidates]
        scores = KeywordIndex(documents, self._limits).scores(text)
        best = float(scores.max()) if len(scores) else 0.0
        exact = text.strip().lower()
        no_keywords = not keyword_tokens([text], self._limits)[0]
        ranked: list[tuple[EntityVersion, float]] = []
        for entity, score in zip(candidates, scores, strict=True):
            value = (
                1.0 if entity.name.lower() == exact else 0.99 * float(score) / best if best else 0.0
            )
            if value > 0 or no_keywords:
                ranked.append((entity, value))
        ranked.sort(key=lambda item: (-item[1], item[0].name))
        return ranked[:limit]

    def _words(self, text: str) -> set[str]:
        """What the SQL pre-filter looks for: the whole text and its first MAX_TEXT_WORDS
        distinct words of 2+ characters."""
        words = {text.lower().strip()}
        for _, piece in text_slices(text):
            self._limits.check_stop()
            for word in dict.fromkeys(piece.lower().split()):
                if len(word) > 1:
                    words.add(word)
                    if len(words) > MAX_TEXT_WORDS:
                        return words
        return words

    def neighbors(
        self,
        entity_id: str,
        depth: int = 1,
        direction: Direction = "out",
        types: Sequence[str] | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> Neighbourhood:
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            raise InvalidArgument(f"depth must be an integer from 1 to {MAX_DEPTH}, got {depth!r}")
        return self._graph().neighbors(
            self._known(entity_id), depth, direction, types, as_of, known_at
        )

    def find_one(self, name: str, type: str) -> EntityVersion | None:
        """The current entity called `name` (any case) of `type`, if there is one."""
        found = self._graph().find_entities(type=type, name=name, limit=1)
        return found[0] if found else None

    def counts(self) -> tuple[int, int]:
        graph = self._graph()
        return graph.count_entities(), graph.count_relationships()


def _describe(entity: EntityVersion) -> str:
    values = " ".join(str(v) for v in entity.properties.values())
    # The name twice: a match on the name weighs more than one on a property value.
    return f"{entity.name} {entity.name} {entity.type} {values}"


__all__ = ["SemanticMemory"]
