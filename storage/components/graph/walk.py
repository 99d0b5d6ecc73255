"""The recursive walk of the graph: one statement per `neighbors` call on both dialects (a
recursive CTE over the entities reached and their hop counts, then the edges followed), and the
conversion of its raw rows. The store picks its walk once when it is built (`walk_for`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    JSON,
    ColumnElement,
    CompoundSelect,
    Connection,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import distinct_on
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
from llmspell.storage.components.graph.tables import PERIODS, graph_entities, graph_relationships
from llmspell.storage.tenancy import Tenant

_SCALARS = (str, int, float, bool, type(None))


class GraphWalk:
    """Walks of one tenant's graph (on SQLite from 3.34, which allows several recursive steps;
    see `walk_for`): the statement per (direction, typed), built once."""

    # The run-time settings of a walk's transaction (`Database.transaction`).
    settings: Mapping[str, str] = {}

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
        self._processors: dict[str, list[Callable[[Any], Any] | None]] = {}

    def neighbors(
        self,
        conn: Connection,
        entity_id: str,
        direction: str,
        typed: bool,
        params: dict[str, Any],
    ) -> Neighbourhood:
        """Entities reached from `entity_id` (params: start, depth, as_of, known_at, types),
        on a connection in a transaction with the walk's `settings`."""
        key = (direction, typed)
        stmt = self._statements.get(key)
        if stmt is None:
            stmt = self._statements[key] = self._statement(direction, typed)
        properties, valid_from, valid_to, recorded_at, superseded_at = self._memos(conn.dialect)
        # Keyed for sorting by the tuples themselves (compared in C, no key function): a
        # node's id is unique, an edge's sequence number breaks ties in the order found. The
        # start is a node here (hop count 0), so that `reached` holds every entity reached.
        reached: dict[str, tuple[int, str, str, EntityVersion]] = {}
        edges: dict[str, tuple[str, str, str, int, RelationshipVersion]] = {}
        # All rows at once: the drivers fetch them in one call instead of one call per row.
        # Both kinds of rows have the relationship's columns and a hop count (see
        # `_statement`): an entity row has its name where an edge has `from_id`.
        for (
            row_id,
            version,
            name_or_from,
            to_id,
            type_,
            props,
            vf,
            vt,
            ra,
            sa,
            hops,
        ) in conn.execute(stmt, params).fetchall():
            if hops is None:
                if row_id not in edges:
                    edge = relationship_of(
                        row_id,
                        version,
                        name_or_from,
                        to_id,
                        type_,
                        properties[props],
                        valid_from[vf],
                        valid_to[vt],
                        recorded_at[ra],
                        superseded_at[sa],
                    )
                    edges[row_id] = (type_, name_or_from, to_id, len(edges), edge)
            elif row_id not in reached:
                entity = entity_of(
                    row_id,
                    version,
                    name_or_from,
                    type_,
                    properties[props],
                    valid_from[vf],
                    valid_to[vt],
                    recorded_at[ra],
                    superseded_at[sa],
                )
                reached[row_id] = (hops, name_or_from, row_id, entity)
        # An edge followed leads to an entity reached: its far end was valid (the statement
        # sends every valid edge leaving an entity below the depth bound, see `_statement`).
        return Neighbourhood(
            nodes=[(entity, hops) for hops, _, _, entity in sorted(reached.values()) if hops],
            edges=[
                edge
                for _, from_id, to_id, _, edge in sorted(edges.values())
                if from_id in reached and to_id in reached
            ],
        )

    def _memos(self, dialect: Dialect) -> list[_Memo]:
        """For one call, a memo per converted column of the rows (`properties`, then the
        periods): each converts a raw value as the column's type would (processors built once
        per dialect). JSON comes as text on both dialects (`_raw`), so that each distinct JSON
        text is converted once per call, as each distinct timestamp: the rows of one walk
        share many, and sharing is safe for datetimes (immutable) and for a flat object
        (`entity_of` copies it, and its values are immutable), unlike nested ones."""
        processors = self._processors.get(dialect.name)
        if processors is None:
            columns = graph_relationships.c
            processors = self._processors[dialect.name] = [
                json.loads
                if isinstance(columns[name].type, JSON)
                else columns[name].type.dialect_impl(dialect).result_processor(dialect, None)
                for name in ("properties", *PERIODS)
            ]
        return [_Memo(processor) for processor in processors]

    def _statement(self, direction: str, typed: bool) -> CompoundSelect[Any]:
        """The reached entities (least hop count, the start with 0) and the edges leaving
        those below the depth bound, in one statement.

        The recursive part carries the entity's walked columns (`_walked`) and its hop count:
        `UNION` drops a repeated row, so each entity is expanded at most once per depth and
        the walk ends at the depth bound whatever cycles there are. A step follows a valid
        edge to a valid entity. Then every valid edge leaving an entity below the depth
        bound: the caller keeps those whose far end was reached (a valid far end is reached
        by that edge), which spares the statement a second lookup of each far end. Both kinds
        of rows share the relationship's columns and a hop count: an entity row has NULL for
        `to_id` and its hop count last, an edge row NULL there.
        """
        e, r = graph_entities, graph_relationships
        valid = BitemporalVersions.valid
        start = (
            select(*self._walked(e), literal(0, Integer).label("hops"))
            .where(self._tenant.where(e), e.c.entity_id == bindparam("start"), valid(e))
            .cte("walk", recursive=True)
        )
        walk = start.alias("w")
        target = e.alias("target")
        steps = []
        for follows, other_end in self._steps(direction, walk.c.entity_id):
            edge_ok = [self._tenant.where(r), follows, valid(r)]
            if typed:
                edge_ok.append(r.c.type.in_(bindparam("types", expanding=True)))
            target_ok = [self._tenant.where(target), target.c.entity_id == other_end, valid(target)]
            steps.append(
                select(*self._walked(target), walk.c.hops + 1)
                .select_from(walk.join(r, and_(*edge_ok)).join(target, and_(*target_ok)))
                .where(self._below_depth(walk.c.hops))
            )
        entity_rows, expandable = self._reached(start.union(*steps))
        # Edges are looked up from the ids below the depth bound (SQLite would rather probe
        # the edges of every reached id). Both directions are two lookups (an OR would scan
        # the tenant's edges on SQLite); an edge between two such ids comes twice and is kept
        # once.
        edge_rows = []
        for near, _ in _SIDES[direction]:
            followed = [self._tenant.where(r), r.c[near].in_(expandable), valid(r)]
            if typed:
                followed.append(r.c.type.in_(bindparam("types", expanding=True)))
            edge_rows.append(
                select(
                    *[_raw(r.c[c.name]) for c in self._relationships.columns],
                    null().label("hops"),
                ).where(*followed)
            )
        return union_all(entity_rows, *edge_rows)

    def _walked(self, entities: Any) -> list[Any]:
        """The columns of an entity the walk carries: its id (payloads are read once the walk
        is done, see `_reached`)."""
        return [entities.c.entity_id]

    def _below_depth(self, hops: Any) -> ColumnElement[bool]:
        """The recursive step's condition, that the entity it expands is below the depth
        bound, marked to SQLite's planner as rarely true. After an ANALYZE (a user's, or
        `PRAGMA optimize`) SQLite guesses a recursive CTE yields more rows than the graph's
        tables hold, and then builds a Bloom filter of the edges and of the entities for every
        step and reads their rows instead of the walk's covering indexes: 2.3x the time of the
        walk without statistics (17 against 7.4 ms at 10,000 entities / 50,000 edges). With
        the estimate lowered, the plan is the same with statistics as without."""
        # (the probability must be a literal: SQLite refuses a bound one)
        return func.likelihood(hops < bindparam("depth"), literal_column("0.000001"))

    def _reached(self, found: CTE) -> tuple[Select[Any], Select[Any]]:
        """(the entity rows: each reached entity's valid version and least hop count, the ids
        below the depth bound). Every reached entity is valid (the walk checked), so the LEFT
        JOIN always matches: it is LEFT so that SQLite keeps the walk as the outer loop."""
        e = graph_entities
        reached = (
            select(found.c.entity_id, func.min(found.c.hops).label("hops"))
            .group_by(found.c.entity_id)
            .cte("reached")
        )
        entity = [_raw(e.c[c.name]) for c in self._entities.columns]
        rows = select(
            *entity[:3], null().label("to_id"), *entity[3:], _raw(reached.c.hops)
        ).select_from(
            reached.outerjoin(
                e,
                and_(
                    self._tenant.where(e),
                    e.c.entity_id == reached.c.entity_id,
                    BitemporalVersions.valid(e),
                ),
            )
        )
        return rows, select(reached.c.entity_id).where(reached.c.hops < bindparam("depth"))

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


class _Memo(dict[Any, Any]):
    """Raw value -> converted value, converting on a miss (looked up in C on a hit) and
    keeping what `_shareable` allows; NULL stays None, no processor leaves values as they are."""

    def __init__(self, processor: Callable[[Any], Any] | None) -> None:
        super().__init__({None: None})
        self._processor = processor

    def __missing__(self, raw: Any) -> Any:
        if self._processor is None:
            return raw
        value = self._processor(raw)
        if _shareable(value):
            self[raw] = value
        return value


def _shareable(value: Any) -> bool:
    """Whether one converted value may serve every row with the same raw value."""
    if isinstance(value, dict):
        return all(isinstance(v, _SCALARS) for v in value.values())
    return isinstance(value, (*_SCALARS, datetime))


def _raw(column: Any) -> Any:
    """`column` selected without result conversion; JSON as its text (see `_memos`)."""
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
    """The walk on PostgreSQL: each step reads the whole valid version of the entity it
    reaches (the lookup that checks it is valid finds it), so the payloads need no second
    lookup; the rows of an entity reached at several depths are reduced to the least. The
    plan does not depend on the start entity: psycopg prepares the statement once it is run
    often, and PostgreSQL's generic plan is as good as a custom one, with no planning per
    call.

    The walk's transaction reads timestamps in UTC: psycopg converts each one to the
    session's time zone, through zoneinfo for a named zone (a server's default, such as
    Etc/UTC), which doubled the cost of fetching a walk's rows (two to four per row)."""

    settings = {"TimeZone": "UTC"}

    def _walked(self, entities: Any) -> list[Any]:
        return [entities.c[c.name] for c in self._entities.columns]

    def _below_depth(self, hops: Any) -> ColumnElement[bool]:
        return hops < bindparam("depth")  # type: ignore[no-any-return]

    def _reached(self, found: CTE) -> tuple[Select[Any], Select[Any]]:
        least = (
            select(found)
            .ext(distinct_on(found.c.entity_id))
            .order_by(found.c.entity_id, found.c.hops)
            .subquery("reached")
        )
        entity = [_raw(least.c[c.name]) for c in self._entities.columns]
        rows = select(*entity[:3], null().label("to_id"), *entity[3:], _raw(least.c.hops))
        return rows, select(found.c.entity_id).where(found.c.hops < bindparam("depth"))


def walk_for(dialect_name: str) -> type[GraphWalk]:
    """The walk for a dialect, picked once when the store is built."""
    if dialect_name == "postgresql":
        return PostgresWalk
    return GraphWalk if sqlite3.sqlite_version_info >= (3, 34) else OneStepWalk
