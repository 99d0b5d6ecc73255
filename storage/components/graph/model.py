"""What the graph component stores and offers: entity and relationship versions, the
neighbourhood a walk finds, and the `GraphStore` Protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

MAX_DEPTH = 6
Direction = Literal["out", "in", "both"]
DIRECTIONS = ("out", "in", "both")


@dataclass(frozen=True)
class EntityVersion:
    """One stored version of an entity."""

    id: str
    version: int
    name: str
    type: str
    properties: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True)
class RelationshipVersion:
    """One stored version of a relationship `from_id -[type]-> to_id`."""

    id: str
    version: int
    from_id: str
    to_id: str
    type: str
    properties: dict[str, Any]
    valid_from: datetime
    valid_to: datetime | None
    recorded_at: datetime
    superseded_at: datetime | None


@dataclass(frozen=True)
class Neighbourhood:
    """Entities reachable from a start entity (with their hop count) and the edges followed."""

    nodes: list[tuple[EntityVersion, int]]
    edges: list[RelationshipVersion]


class GraphStore(Protocol):
    """Bi-temporal entities and relationships of one tenant."""

    def add_entity(
        self,
        name: str,
        type: str,
        properties: Mapping[str, Any],
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        """Record a new entity; returns its id."""
        ...

    def update_entity(
        self, entity_id: str, properties: Mapping[str, Any], valid_from: datetime | None = None
    ) -> EntityVersion | None:
        """From `valid_from` (default now) the entity's properties are those valid then,
        updated with `properties`; returns the new version (None: not valid from then)."""
        ...

    def delete_entity(self, entity_id: str, at: datetime | None = None) -> bool:
        """Close the entity (and its relationships) in valid time at `at` (default now)."""
        ...

    def get_entity(
        self, entity_id: str, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> EntityVersion | None:
        """The version valid at `as_of` as recorded by `known_at` (both default now)."""
        ...

    def entity_exists(self, entity_id: str) -> bool:
        """Whether any version of `entity_id` was ever recorded."""
        ...

    def entity_history(self, entity_id: str) -> list[EntityVersion]:
        """Every version, newest `recorded_at` first (ties: newest `valid_from` first)."""
        ...

    def find_entities(
        self,
        type: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
        limit: int | None = None,
        containing: Sequence[str] = (),
    ) -> list[EntityVersion]:
        """Entities valid at the lookup times: `type` exact, `name` case-insensitive exact,
        every property equal, and (when given) name or properties containing any of the
        `containing` words (case-insensitive); ordered by name."""
        ...

    def count_entities(self) -> int:
        """Entities valid now."""
        ...

    def add_relationship(
        self,
        from_id: str,
        to_id: str,
        type: str,
        properties: Mapping[str, Any],
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        """Record a relationship between two existing entities; returns its id."""
        ...

    def delete_relationship(self, relationship_id: str, at: datetime | None = None) -> bool:
        """Close a relationship in valid time at `at` (default now)."""
        ...

    def relationships(
        self,
        entity_id: str,
        direction: Direction = "out",
        type: str | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> list[RelationshipVersion]:
        """Relationships of an entity valid at the lookup times."""
        ...

    def relationship_history(self, relationship_id: str) -> list[RelationshipVersion]:
        """Every version of a relationship, newest `recorded_at` first."""
        ...

    def count_relationships(self) -> int:
        """Relationships valid now."""
        ...

    def neighbors(
        self,
        entity_id: str,
        depth: int = 1,
        direction: Direction = "out",
        types: Sequence[str] | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> Neighbourhood:
        """Entities within `depth` hops (1-6) over edges valid at the lookup times."""
        ...


# A walk builds a thousand or more versions per call: they are made by setting the instance
# dict directly (one dict, no per-field object.__setattr__ as in a frozen dataclass's
# __init__). The result is the same object: same fields, equality, hash and repr.
_new = object.__new__
_set_dict = object.__setattr__


def entity_of(
    entity_id: str,
    version: int,
    name: str,
    type_: str,
    properties: Mapping[str, Any] | None,
    valid_from: datetime,
    valid_to: datetime | None,
    recorded_at: datetime,
    superseded_at: datetime | None,
) -> EntityVersion:
    """An entity from its columns in table order (after tenant_id)."""
    entity = _new(EntityVersion)
    _set_dict(
        entity,
        "__dict__",
        {
            "id": entity_id,
            "version": int(version),
            "name": name,
            "type": type_,
            "properties": dict(properties or {}),
            "valid_from": valid_from,
            "valid_to": valid_to,
            "recorded_at": recorded_at,
            "superseded_at": superseded_at,
        },
    )
    return entity


def relationship_of(
    relationship_id: str,
    version: int,
    from_id: str,
    to_id: str,
    type_: str,
    properties: Mapping[str, Any] | None,
    valid_from: datetime,
    valid_to: datetime | None,
    recorded_at: datetime,
    superseded_at: datetime | None,
) -> RelationshipVersion:
    """A relationship from its columns in table order (after tenant_id)."""
    relationship = _new(RelationshipVersion)
    _set_dict(
        relationship,
        "__dict__",
        {
            "id": relationship_id,
            "version": int(version),
            "from_id": from_id,
            "to_id": to_id,
            "type": type_,
            "properties": dict(properties or {}),
            "valid_from": valid_from,
            "valid_to": valid_to,
            "recorded_at": recorded_at,
            "superseded_at": superseded_at,
        },
    )
    return relationship


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
