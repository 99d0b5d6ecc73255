"""The recursive walk of the graph: one recursive CTE per `neighbors` call, on both dialects,
and the conversion of its raw rows. `PostgresWalk` asks for a custom plan before each walk;
the store picks its walk once when it is built."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
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
from llmspell.storage.schema import UtcDateTime
from llmspell.storage.tenancy import Tenant

CUSTOM_PLANS = select(func.set_config("plan_cache_mode", "force_custom_plan", True))
_UNSEEN = object()


class GraphWalk:
    """Walks of one tenant's graph: the statement per (direction, typed), built once."""

    def __init__(
        self,
        tenant: Tenant,
        entities: BitemporalVersions,
        relationships: BitemporalVersions,
    ) -> None:
        self._tenant = tenant
        self._entities = entities
        self._relationships = relationships
        self._statements: dict[Hashable, Select[Any]] = {}
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
        width = len(self._entities.columns)
        node_values = self._converter(self._entities.columns, conn.dialect)
        edge_values = self._converter(self._relationships.columns, conn.dialect)
        self._prepare(conn)
        for row in conn.execute(stmt, params):
            node_id = row[0]
            if node_id != entity_id and node_id not in nodes:
                nodes[node_id] = (entity_of(node_values(row[:width])), int(row[width]))
            edge = row[width + 1 :]
            if edge[0] is not None and edge[0] not in edges:
                edges[edge[0]] = relationship_of(edge_values(edge))
        ordered = sorted(nodes.values(), key=lambda item: (item[1], item[0].name, item[0].id))
        return Neighbourhood(
            nodes=ordered,
            edges=sorted(edges.values(), key=lambda edge: (edge.type, edge.from_id, edge.to_id)),
        )

    def _prepare(self, conn: Connection) -> None:
        """What the dialect needs before a walk (nothing on SQLite)."""

    def _converter(
        self, columns: Sequence[Column[Any]], dialect: Dialect
    ) -> Callable[[Sequence[Any]], list[Any]]:
        """Converts raw values of `columns` as their types would (processors built once per
        dialect). A converter serves one call: it converts each distinct timestamp once (the
        rows of one walk share many; datetimes are immutable, so sharing one is safe, unlike
        property dicts), and its memory goes with it."""
        key = (tuple(c.name for c in columns), dialect.name)
        processors = self._processors.get(key)
        if processors is None:
            processors = self._processors[key] = [
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

    def _statement(self, direction: str, typed: bool) -> Select[Any]:
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


def _raw(column: Any, name: str) -> Any:
    """`column` selected without result conversion."""
    return type_coerce(column, NullType()).label(name)


class PostgresWalk(GraphWalk):
    """The walk on PostgreSQL: psycopg prepares a statement run often, and PostgreSQL's
    generic plan for this recursive query (not knowing the start entity) is many times
    slower, so each walk asks for a custom plan."""

    def _prepare(self, conn: Connection) -> None:
        conn.execute(CUSTOM_PLANS)
