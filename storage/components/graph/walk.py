"""The recursive walk of the graph: one statement per `neighbors` call on both dialects (a
recursive CTE over entity ids and hop counts, then the payloads of what it reached), and the
conversion of its raw rows. `PostgresWalk` asks for a custom plan before each walk; the store
picks its walk once when it is built (`walk_for`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import NullType

from llmspell.storage.bitemporal import BitemporalVersions
from llmspell.storage.components.graph.model import (
    EntityVersion,
    Neighbourhood,
    RelationshipVersion,
    entity_of,
    relationship_of,
)
from llmspell.storage.components.graph.tables import graph_entities, graph_relationships
from llmspell.storage.tenancy import Tenant

CUSTOM_PLANS = select(func.set_config("plan_cache_mode", "force_custom_plan", True))
_UNSEEN = object()
_SCALARS = (str, int, float, bool, type(None))


class GraphWalk:
    """Walks of one tenant's graph (on SQLite from 3.34, which allows several recursive steps;
    see `walk_for`): the statement per (direction, typed), built once."""

    def __init__(
        self,
        tenant: Tenant,
        entities: BitemporalVersions,
        relationships: BitemporalVersions,
    ) -> None:
        self._tenant = tenant
        self._entities = entities
        self._relationships = relationships
        self._statements: dict[Hashable, CompoundSelect[Any]] = {}
        self._processors: dict[Hashable, list[Any]] = {}

    def neighbors(
        self,
        conn: Connection,
        entity_id: str,
        direction: str,
        typed: bool,
        params: dict[str, Any],
    ) -> Neighbourhood:
        """Entities reached from `entity_id` (params: start, depth, as_of, known_at, types)."""
        key = (direction, typed)
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statements[key] = self._statement(direction, typed)
        nodes: dict[str, tuple[EntityVersion, int]] = {}
        edges: dict[str, RelationshipVersion] = {}
        node_values = self._converter(self._entities.columns, conn.dialect)
        edge_values = self._converter(self._relationships.columns, conn.dialect)
        self._prepare(conn)
        # All rows at once: the drivers fetch them in one call instead of one call per row.
        for row in conn.execute(stmt, params).fetchall():
            # An entity row carries its hop count last, an edge row NULL (see `_statement`).
            hops = row[-1]
            if hops is None:
                if row[0] not in edges:
                    edges[row[0]] = relationship_of(edge_values(row[:-1]))
            elif row[0] != entity_id and row[0] not in nodes:
                nodes[row[0]] = (entity_of(node_values(row[:3] + row[4:-1])), int(hops))
        return Neighbourhood(
            nodes=sorted(nodes.values(), key=lambda item: (item[1], item[0].name, item[0].id)),
            edges=sorted(edges.values(), key=lambda edge: (edge.type, edge.from_id, edge.to_id)),
        )

    def _prepare(self, conn: Connection) -> None:
        """What the dialect needs before a walk (nothing on SQLite)."""

    def _converter(
        self, columns: Sequence[Column[Any]], dialect: Dialect
    ) -> Callable[[Sequence[Any]], list[Any]]:
        """Converts raw values of `columns` as their types would (processors built once per
        dialect; columns without one are copied as they are). JSON comes as text on both
        dialects (`_raw`), so that a converter, which serves one call, can convert each
        distinct JSON text once, as each distinct timestamp: the rows of one walk share many,
        and sharing is safe for datetimes (immutable) and for a flat object (`entity_of`
        copies it, and its values are immutable), unlike nested ones."""
        key = (tuple(c.name for c in columns), dialect.name)
        processors = self._processors.get(key)
        if processors is None:
            processors = self._processors[key] = [
                (i, processor)
                for i, c in enumerate(columns)
                if (
                    processor := json.loads
                    if isinstance(c.type, JSON)
                    else c.type.dialect_impl(dialect).result_processor(dialect, None)
                )
            ]
        steps: list[tuple[int, Any, dict[Any, Any]]] = [(i, p, {}) for i, p in processors]

        def convert(values: Sequence[Any]) -> list[Any]:
            converted = list(values)
            for i, processor, done in steps:
                value = converted[i]
                if value is None:
                    continue
                result = done.get(value, _UNSEEN)
                if result is _UNSEEN:
                    result = processor(value)
                    if _shareable(result):
                        done[value] = result
                converted[i] = result
            return converted

        return convert

    def _statement(self, direction: str, typed: bool) -> CompoundSelect[Any]:
        """The reached entities (least hop count) and the edges followed, in one statement.

        The recursive part carries only the entity id and its hop count: `UNION` drops a
        repeated (id, hops), so each entity is expanded at most once per depth and the walk
        ends at the depth bound whatever cycles there are. Payloads are read once, for the
        result: each reached entity's valid version, and each valid edge leaving an entity
        below the depth bound towards a reached entity (a valid other end is reached by that
        edge). Both kinds of rows share the relationship's columns and a hop count: an entity
        row has NULL for `to_id` and its hop count last, an edge row NULL there.
        """
        e, r = graph_entities, graph_relationships
        valid = BitemporalVersions.valid
        start = (
            select(e.c.entity_id, literal(0, Integer).label("hops"))
            .where(self._tenant.where(e), e.c.entity_id == bindparam("start"), valid(e))
            .cte("walk", recursive=True)
        )
        walk = start.alias("w")
        target = e.alias("target")

        def is_valid_entity(entity_id: Any) -> ColumnElement[bool]:
            return exists(
                select(target.c.entity_id).where(
                    self._tenant.where(target), target.c.entity_id == entity_id, valid(target)
                )
            )

        steps = []
        for follows, other_end in self._steps(direction, walk.c.entity_id):
            edge_ok = [self._tenant.where(r), follows, valid(r)]
            if typed:
                edge_ok.append(r.c.type.in_(bindparam("types", expanding=True)))
            steps.append(
                select(other_end, walk.c.hops + 1)
                .select_from(walk.join(r, and_(*edge_ok)))
                .where(walk.c.hops < bindparam("depth"), is_valid_entity(other_end))
            )
        found = start.union(*steps)
        reached = (
            select(found.c.entity_id, func.min(found.c.hops).label("hops"))
            .group_by(found.c.entity_id)
            .cte("reached")
        )
        # Every reached entity is valid (the walk checked), so the LEFT JOIN always matches:
        # it is LEFT so that SQLite keeps the walk as the outer loop.
        entity = [_raw(e.c[c.name]) for c in self._entities.columns]
        entity_rows = select(
            *entity[:3], null().label("to_id"), *entity[3:], _raw(reached.c.hops)
        ).select_from(
            reached.outerjoin(
                e, and_(self._tenant.where(e), e.c.entity_id == reached.c.entity_id, valid(e))
            )
        )
        # Edges are looked up from the ids below the depth bound (SQLite would rather probe
        # the edges of every reached id) and their other end by its key, as in the walk. Both
        # directions are two lookups (an OR would scan the tenant's edges on SQLite); an edge
        # between two such ids comes twice and is kept once.
        expandable = select(reached.c.entity_id).where(reached.c.hops < bindparam("depth"))
        edge_rows = []
        for near, far in _SIDES[direction]:
            followed = [
                self._tenant.where(r),
                r.c[near].in_(expandable),
                valid(r),
                self._leads_to_reached(r.c[far], reached, is_valid_entity),
            ]
            if typed:
                followed.append(r.c.type.in_(bindparam("types", expanding=True)))
            edge_rows.append(
                select(
                    *[_raw(r.c[c.name]) for c in self._relationships.columns],
                    null().label("hops"),
                ).where(*followed)
            )
        return union_all(entity_rows, *edge_rows)

    def _leads_to_reached(
        self, far: Any, reached: Any, is_valid_entity: Callable[[Any], ColumnElement[bool]]
    ) -> ColumnElement[bool]:
        """The far end of an edge followed is a reached entity: on SQLite probed by its key
        (a valid far end is reached; SQLite, asked for membership in the walk, would drive
        the lookup from the walk's every entity instead)."""
        return is_valid_entity(far)

    def _steps(self, direction: str, node: Any) -> list[tuple[ColumnElement[bool], Any]]:
        """(the edge leaves `node` in `direction`, the entity at its other end), one per
        recursive step: both directions are two steps on SQLite, each an index lookup (one
        step with an OR would scan the tenant's edges for every entity walked)."""
        r = graph_relationships
        return [(r.c[near] == node, r.c[far]) for near, far in _SIDES[direction]]


# The (near end, far end) columns of the edges followed in each direction.
_SIDES = {
    "out": [("from_id", "to_id")],
    "in": [("to_id", "from_id")],
    "both": [("from_id", "to_id"), ("to_id", "from_id")],
}


def _shareable(value: Any) -> bool:
    """Whether one converted value may serve every row with the same raw value."""
    if isinstance(value, dict):
        return all(isinstance(v, _SCALARS) for v in value.values())
    return isinstance(value, (*_SCALARS, datetime))


def _raw(column: Any) -> Any:
    """`column` selected without result conversion; JSON as its text (see `_converter`)."""
    name = column.name
    if isinstance(column.type, JSON):
        column = cast(column, Text)
    return type_coerce(column, NullType()).label(name)


class OneStepWalk(GraphWalk):
    """The walk where a recursive CTE may refer to itself only once (PostgreSQL, SQLite before
    3.34): both directions are one step, edges joined by either end (on PostgreSQL a BitmapOr
    of the two edge indexes)."""

    def _steps(self, direction: str, node: Any) -> list[tuple[ColumnElement[bool], Any]]:
        if direction != "both":
            return super()._steps(direction, node)
        r = graph_relationships
        return [
            (
                or_(r.c.from_id == node, r.c.to_id == node),
                case((r.c.from_id == node, r.c.to_id), else_=r.c.from_id),
            )
        ]


class PostgresWalk(OneStepWalk):
    """The walk on PostgreSQL: psycopg prepares a statement run often, and PostgreSQL's
    generic plan for this recursive query (not knowing the start entity) is many times
    slower, so each walk asks for a custom plan."""

    def _prepare(self, conn: Connection) -> None:
        conn.execute(CUSTOM_PLANS)

    def _leads_to_reached(
        self, far: Any, reached: Any, is_valid_entity: Callable[[Any], ColumnElement[bool]]
    ) -> ColumnElement[bool]:
        # One hash of the walk's ids, not an index probe per edge.
        result: ColumnElement[bool] = far.in_(select(reached.c.entity_id))
        return result


def walk_for(dialect_name: str) -> type[GraphWalk]:
    """The walk for a dialect, picked once when the store is built."""
    if dialect_name == "postgresql":
        return PostgresWalk
    return GraphWalk if sqlite3.sqlite_version_info >= (3, 34) else OneStepWalk
