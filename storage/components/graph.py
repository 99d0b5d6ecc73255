"""Component 2, graph: semantic memory as bi-temporal entities and relationships.

Entities and relationships are versioned rows of the bi-temporal model
(`llmspell.storage.bitemporal`): valid time x transaction time, updates supersede and
re-record, nothing is physically removed.

Traversal is one recursive CTE per call, on both dialects: breadth by hop count, `UNION` so each
(entity, hops) pair is produced once (cycles end at the depth bound), only entities and edges
valid at the lookup times, and the tenant on every join.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Select,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

from llmspell.storage.bitemporal import BitemporalVersions, first_version, temporal_columns
from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import UtcDateTime, metadata, tenant_column
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import (
    check_limit,
    json_equal,
    json_object,
    refuse_nul,
    require_text,
)

__all__ = [
    "MAX_DEPTH",
    "EntityVersion",
    "GraphStore",
    "Neighbourhood",
    "RelationshipVersion",
    "SqlGraphStore",
]

MAX_DEPTH = 6
CUSTOM_PLANS = select(func.set_config("plan_cache_mode", "force_custom_plan", True))
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


def _json_type() -> Any:
    return JSON().with_variant(JSONB(), "postgresql")


graph_entities = Table(
    "graph_entities",
    metadata,
    tenant_column(),
    Column("entity_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("properties", _json_type(), nullable=False),
    *temporal_columns(),
    PrimaryKeyConstraint("tenant_id", "entity_id", "version"),
    Index("ix_graph_entities_tenant_id_type", "tenant_id", "type"),
    Index("ix_graph_entities_tenant_id_name", "tenant_id", "name"),
)

graph_relationships = Table(
    "graph_relationships",
    metadata,
    tenant_column(),
    Column("relationship_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_id", Text, nullable=False),
    Column("to_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("properties", _json_type(), nullable=False),
    *temporal_columns(),
    PrimaryKeyConstraint("tenant_id", "relationship_id", "version"),
    Index("ix_graph_relationships_tenant_id_from_id", "tenant_id", "from_id"),
    Index("ix_graph_relationships_tenant_id_to_id", "tenant_id", "to_id"),
)


class SqlGraphStore:
    """`GraphStore` on any SQL backend, for one tenant."""

    def __init__(self, db: Database, tenant: Tenant, settings: None = None) -> None:
        self._db = db
        self._tenant = tenant
        self.tenant_id = tenant.id
        self._entities = BitemporalVersions(tenant, graph_entities, "entity_id")
        self._relationships = BitemporalVersions(tenant, graph_relationships, "relationship_id")
        self._statements: dict[Hashable, Any] = {}
        self._postgres = db.dialect_name == "postgresql"
        e, r = graph_entities, graph_relationships
        valid = BitemporalVersions.valid
        self._count_entities = select(func.count()).where(tenant.where(e), valid(e))
        self._count_relationships = select(func.count()).where(tenant.where(r), valid(r))
        self._entity_ids_of_edges = (
            select(r.c.relationship_id)
            .where(
                tenant.where(r),
                or_(r.c.from_id == bindparam("entity_id"), r.c.to_id == bindparam("entity_id")),
                r.c.superseded_at.is_(None),
                or_(r.c.valid_to.is_(None), r.c.valid_to > bindparam("at")),
            )
            .distinct()
        )

    def _statement(self, key: Hashable, build: Callable[[], Any]) -> Any:
        statement = self._statements.get(key)
        if statement is None:
            statement = self._statements[key] = build()
        return statement

    @staticmethod
    def _times(as_of: datetime | None, known_at: datetime | None) -> dict[str, datetime]:
        now = datetime.now(UTC)
        return {"as_of": as_of or now, "known_at": known_at or now}

    @staticmethod
    def _entity(row: Any) -> EntityVersion:
        return _entity_of(tuple(row))

    @staticmethod
    def _relationship(row: Any) -> RelationshipVersion:
        return _relationship_of(tuple(row))

    # -- entities ------------------------------------------------------------------------------

    def add_entity(
        self,
        name: str,
        type: str,
        properties: Mapping[str, Any],
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        values = {
            "entity_id": str(uuid.uuid4()),
            "name": require_text("name", name),
            "type": require_text("type", type),
            **first_version(properties, valid_from, valid_to),
        }
        with self._db.transaction(write=True) as conn:
            conn.execute(self._entities.insert, values)
        return str(values["entity_id"])

    def update_entity(
        self, entity_id: str, properties: Mapping[str, Any], valid_from: datetime | None = None
    ) -> EntityVersion | None:
        entity_id = require_text("entity id", entity_id)
        changes = json_object("properties", properties)
        now = datetime.now(UTC)
        at = valid_from or now
        with self._db.transaction(write=True) as conn:
            values = self._entities.change(
                conn,
                entity_id,
                at,
                now,
                lambda base: {"properties": {**dict(base.properties or {}), **changes}},
            )
        if values is None:
            return None
        return EntityVersion(
            id=entity_id,
            version=int(values["version"]),
            name=values["name"],
            type=values["type"],
            properties=values["properties"],
            valid_from=values["valid_from"],
            valid_to=values["valid_to"],
            recorded_at=values["recorded_at"],
            superseded_at=None,
        )

    def delete_entity(self, entity_id: str, at: datetime | None = None) -> bool:
        entity_id = require_text("entity id", entity_id)
        now = datetime.now(UTC)
        at = at or now
        with self._db.transaction(write=True) as conn:
            closed = self._entities.change(conn, entity_id, at, now, None)
            if closed is None:
                return False
            edges = conn.execute(self._entity_ids_of_edges, {"entity_id": entity_id, "at": at})
            for (relationship_id,) in edges.all():
                self._relationships.change(conn, relationship_id, at, now, None)
        return True

    def get_entity(
        self, entity_id: str, as_of: datetime | None = None, known_at: datetime | None = None
    ) -> EntityVersion | None:
        params = {"entity_id": require_text("entity id", entity_id), **self._times(as_of, known_at)}
        with self._db.transaction() as conn:
            row = conn.execute(self._entities.at, params).first()
        return None if row is None else self._entity(row)

    def entity_exists(self, entity_id: str) -> bool:
        with self._db.transaction() as conn:
            found = conn.execute(
                self._entities.exists, {"entity_id": require_text("entity id", entity_id)}
            ).first()
        return found is not None

    def entity_history(self, entity_id: str) -> list[EntityVersion]:
        with self._db.transaction() as conn:
            rows = conn.execute(
                self._entities.history, {"entity_id": require_text("entity id", entity_id)}
            ).all()
        return [self._entity(row) for row in rows]

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
        check_limit(limit)
        refuse_nul("type", type)
        refuse_nul("name", name)
        refuse_nul("containing", list(containing))
        words = [w.lower() for w in containing if w]
        shape = (type is not None, name is not None, len(words))
        stmt = self._statement(("find", shape), lambda: self._find_statement(*shape))
        params: dict[str, Any] = self._times(as_of, known_at)
        if type is not None:
            params["type"] = type
        if name is not None:
            params["name"] = name.lower()
        for i, word in enumerate(words):
            params[f"word{i}"] = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
        wanted = json_object("properties", properties)
        found: list[EntityVersion] = []
        with self._db.transaction() as conn:
            for row in conn.execute(stmt, params):
                entity = self._entity(row)
                if all(
                    key in entity.properties and json_equal(entity.properties[key], value)
                    for key, value in wanted.items()
                ):
                    found.append(entity)
                    if limit is not None and len(found) >= limit:
                        break
        return found

    def _find_statement(self, by_type: bool, by_name: bool, words: int) -> Select[Any]:
        e = graph_entities
        clauses: list[ColumnElement[bool]] = [self._tenant.where(e), BitemporalVersions.valid(e)]
        if by_type:
            clauses.append(e.c.type == bindparam("type"))
        if by_name:
            clauses.append(func.lower(e.c.name) == bindparam("name"))
        if words:
            text = func.lower(e.c.name + literal(" ") + cast(e.c.properties, Text), type_=Text)
            clauses.append(
                or_(
                    *[
                        text.like(
                            literal("%") + bindparam(f"word{i}", type_=Text) + "%", escape="/"
                        )
                        for i in range(words)
                    ]
                )
            )
        return select(*self._entities.columns).where(*clauses).order_by(e.c.name, e.c.entity_id)

    def count_entities(self) -> int:
        with self._db.transaction() as conn:
            return int(conn.execute(self._count_entities, self._times(None, None)).scalar_one())

    # -- relationships -------------------------------------------------------------------------

    def add_relationship(
        self,
        from_id: str,
        to_id: str,
        type: str,
        properties: Mapping[str, Any],
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
    ) -> str:
        values = {
            "relationship_id": str(uuid.uuid4()),
            "from_id": require_text("from", from_id),
            "to_id": require_text("to", to_id),
            "type": require_text("type", type),
            **first_version(properties, valid_from, valid_to),
        }
        with self._db.transaction(write=True) as conn:
            for end in (from_id, to_id):
                # Only this tenant's entities: an edge can never lead into another tenant.
                if conn.execute(self._entities.exists, {"entity_id": end}).first() is None:
                    raise ValueError(f"no entity {end!r}")
            conn.execute(self._relationships.insert, values)
        return str(values["relationship_id"])

    def delete_relationship(self, relationship_id: str, at: datetime | None = None) -> bool:
        relationship_id = require_text("relationship id", relationship_id)
        now = datetime.now(UTC)
        with self._db.transaction(write=True) as conn:
            return (
                self._relationships.change(conn, relationship_id, at or now, now, None) is not None
            )

    def relationships(
        self,
        entity_id: str,
        direction: Direction = "out",
        type: str | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> list[RelationshipVersion]:
        _check_direction(direction)
        r = graph_relationships

        def build() -> Select[Any]:
            ends = {
                "out": r.c.from_id == bindparam("entity_id"),
                "in": r.c.to_id == bindparam("entity_id"),
                "both": or_(
                    r.c.from_id == bindparam("entity_id"), r.c.to_id == bindparam("entity_id")
                ),
            }[direction]
            clauses = [self._tenant.where(r), BitemporalVersions.valid(r), ends]
            if type is not None:
                clauses.append(r.c.type == bindparam("type"))
            return select(*self._relationships.columns).where(*clauses).order_by(r.c.valid_from)

        stmt = self._statement(("relationships", direction, type is not None), build)
        params: dict[str, Any] = {
            "entity_id": require_text("entity id", entity_id),
            **self._times(as_of, known_at),
        }
        if type is not None:
            params["type"] = type
            refuse_nul("type", type)
        with self._db.transaction() as conn:
            return [self._relationship(row) for row in conn.execute(stmt, params)]

    def relationship_history(self, relationship_id: str) -> list[RelationshipVersion]:
        params = {"relationship_id": require_text("relationship id", relationship_id)}
        with self._db.transaction() as conn:
            rows = conn.execute(self._relationships.history, params).all()
        return [self._relationship(row) for row in rows]

    def count_relationships(self) -> int:
        with self._db.transaction() as conn:
            return int(
                conn.execute(self._count_relationships, self._times(None, None)).scalar_one()
            )

    # -- traversal -----------------------------------------------------------------------------

    def neighbors(
        self,
        entity_id: str,
        depth: int = 1,
        direction: Direction = "out",
        types: Sequence[str] | None = None,
        as_of: datetime | None = None,
        known_at: datetime | None = None,
    ) -> Neighbourhood:
        entity_id = require_text("entity id", entity_id)
        _check_direction(direction)
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH}, got {depth!r}")
        typed = types is not None
        stmt = self._statement(
            ("neighbors", direction, typed), lambda: self._walk_statement(direction, typed)
        )
        params: dict[str, Any] = {
            "start": entity_id,
            "depth": depth,
            **self._times(as_of, known_at),
        }
        if typed:
            params["types"] = list(types or [])
            refuse_nul("types", params["types"])
        nodes: dict[str, tuple[EntityVersion, int]] = {}
        edges: dict[str, RelationshipVersion] = {}
        width = len(self._entities.columns)
        with self._db.transaction() as conn:
            node_values = self._converter(self._entities.columns, conn.dialect)
            edge_values = self._converter(self._relationships.columns, conn.dialect)
            if self._postgres:
                # psycopg prepares a statement run often; PostgreSQL's generic plan for this
                # recursive query (not knowing the start entity) is many times slower.
                conn.execute(CUSTOM_PLANS)
            for row in conn.execute(stmt, params):
                node_id = row[0]
                if node_id != entity_id and node_id not in nodes:
                    nodes[node_id] = (_entity_of(node_values(row[:width])), int(row[width]))
                edge = row[width + 1 :]
                if edge[0] is not None and edge[0] not in edges:
                    edges[edge[0]] = _relationship_of(edge_values(edge))
        ordered = sorted(nodes.values(), key=lambda item: (item[1], item[0].name, item[0].id))
        return Neighbourhood(
            nodes=ordered,
            edges=sorted(edges.values(), key=lambda edge: (edge.type, edge.from_id, edge.to_id)),
        )

    def _converter(
        self, columns: Sequence[Column[Any]], dialect: Dialect
    ) -> Callable[[Sequence[Any]], list[Any]]:
        """Converts raw values of `columns` as their types would (processors built once per
        dialect). A converter serves one call: it converts each distinct timestamp once (the
        rows of one walk share many; datetimes are immutable, so sharing one is safe, unlike
        property dicts), and its memory goes with it."""
        key = ("converter", tuple(c.name for c in columns), dialect.name)
        processors = self._statements.get(key)
        if processors is None:
            processors = self._statements[key] = [
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            ]
        seen: list[dict[Any, Any] | None] = [
            {} if isinstance(c.type, UtcDateTime) else None for c in columns
        ]

        def convert(values: Sequence[Any]) -> list[Any]:
            converted = []
            for processor, value, done in zip(processors, values, seen, strict=True):
                if processor is None or value is None:
                    converted.append(value)
                    continue
                if done is None:
                    converted.append(processor(value))
                    continue
                result = done.get(value, _UNSEEN)
                if result is _UNSEEN:
                    result = done[value] = processor(value)
                converted.append(result)
            return converted

        return convert

    def _walk_statement(self, direction: str, typed: bool) -> Select[Any]:
        """Reached entities (least hop count) joined with the edges followed out of them.

        The recursive part carries the entity's row and its hop count; `UNION` drops a repeat,
        so the walk ends at the depth bound whatever cycles there are and each entity is
        expanded at most once per depth. Carrying the row keeps the final query from joining
        the entities table again (SQLite would scan it instead of probing it).
        """
        e, r = graph_entities, graph_relationships
        valid = BitemporalVersions.valid
        columns = self._entities.columns
        start = (
            select(*columns, literal(0, Integer).label("hops"))
            .where(self._tenant.where(e), e.c.entity_id == bindparam("start"), valid(e))
            .cte("walk", recursive=True)
        )
        walk = start.alias("w")
        follows, reached = _ends(direction, walk.c.entity_id)
        edge_ok = [self._tenant.where(r), follows, valid(r)]
        if typed:
            edge_ok.append(r.c.type.in_(bindparam("types", expanding=True)))
        step = (
            select(*columns, walk.c.hops + 1)
            .select_from(
                walk.join(r, and_(*edge_ok)).join(
                    e, and_(self._tenant.where(e), e.c.entity_id == reached, valid(e))
                )
            )
            .where(walk.c.hops < bindparam("depth"))
        )
        found = start.union(step)
        kept = [found.c[c.name] for c in columns]
        nearest = select(*kept, func.min(found.c.hops).label("hops")).group_by(*kept).cte("reached")
        # An edge out of a reached entity (below the depth bound) whose other end is valid
        # leads to a reached entity: an indexed lookup, not a scan of the walk.
        far = e.alias("far")
        # Entities at the depth bound have no edges to follow: NULL matches no edge, so their
        # edges are never read (a plain `hops < depth` would filter them after reading).
        expandable = case((nearest.c.hops < bindparam("depth"), nearest.c.entity_id))
        follows_out, other_end = _ends(direction, expandable)
        followed = [
            self._tenant.where(r),
            follows_out,
            valid(r),
            exists(
                select(far.c.entity_id).where(
                    self._tenant.where(far), far.c.entity_id == other_end, valid(far)
                )
            ),
        ]
        if typed:
            followed.append(r.c.type.in_(bindparam("types", expanding=True)))
        # Values come back unconverted (an entity repeats on each of its edges' rows); the
        # caller converts each distinct entity and edge once (`_converter`).
        return select(
            *[_raw(nearest.c[c.name], c.name) for c in columns],
            _raw(nearest.c.hops, "hops"),
            *[_raw(r.c[c.name], f"edge_{c.name}") for c in self._relationships.columns],
        ).select_from(nearest.outerjoin(r, and_(*followed)))


_UNSEEN = object()


def _raw(column: Any, name: str) -> Any:
    """`column` selected without result conversion."""
    return type_coerce(column, NullType()).label(name)


def _entity_of(values: Sequence[Any]) -> EntityVersion:
    """An entity from its columns in table order (after tenant_id)."""
    entity_id, version, name, type_, properties, valid_from, valid_to, recorded, superseded = values
    return EntityVersion(
        id=entity_id,
        version=int(version),
        name=name,
        type=type_,
        properties=dict(properties or {}),
        valid_from=valid_from,
        valid_to=valid_to,
        recorded_at=recorded,
        superseded_at=superseded,
    )


def _relationship_of(values: Sequence[Any]) -> RelationshipVersion:
    """A relationship from its columns in table order (after tenant_id)."""
    rid, version, from_id, to_id, type_, properties, valid_from, valid_to, recorded, superseded = (
        values
    )
    return RelationshipVersion(
        id=rid,
        version=int(version),
        from_id=from_id,
        to_id=to_id,
        type=type_,
        properties=dict(properties or {}),
        valid_from=valid_from,
        valid_to=valid_to,
        recorded_at=recorded,
        superseded_at=superseded,
    )


def _ends(direction: str, node: Any) -> tuple[ColumnElement[bool], Any]:
    """(the edge leaves `node` in `direction`, the entity at its other end)."""
    r = graph_relationships
    if direction == "out":
        return r.c.from_id == node, r.c.to_id
    if direction == "in":
        return r.c.to_id == node, r.c.from_id
    return (
        or_(r.c.from_id == node, r.c.to_id == node),
        case((r.c.from_id == node, r.c.to_id), else_=r.c.from_id),
    )


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")


COMPONENT = Component(
    name="graph",
    title="semantic memory: bi-temporal entities and relationships with recursive traversal",
    protocol=GraphStore,
    tables=(graph_entities, graph_relationships),
    store=SqlGraphStore,
)
