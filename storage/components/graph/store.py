"""`SqlGraphStore`: entities and relationships of one tenant as bi-temporal versions (updates
supersede and re-record, nothing is physically removed), their lookups, and the walk, picked
for the dialect once when the store is built (`walk`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)

from llmspell.storage.bitemporal import BitemporalVersions, first_version
from llmspell.storage.components.graph.model import (
    MAX_DEPTH,
    Direction,
    EntityVersion,
    Neighbourhood,
    RelationshipVersion,
    check_direction,
    entity_of,
    relationship_of,
)
from llmspell.storage.components.graph.tables import graph_entities, graph_relationships
from llmspell.storage.components.graph.walk import walk_for
from llmspell.storage.database import Database
from llmspell.storage.tenancy import Tenant
from llmspell.storage.values import (
    check_limit,
    json_equal,
    json_object,
    refuse_nul,
    require_text,
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
        self._walk = walk_for(db.dialect_name)(tenant, self._entities, self._relationships)
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
        return entity_of(*row)

    @staticmethod
    def _relationship(row: Any) -> RelationshipVersion:
        return relationship_of(*row)

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
        check_direction(direction)
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
        check_direction(direction)
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be an integer from 1 to {MAX_DEPTH}, got {depth!r}")
        typed = types is not None
        params: dict[str, Any] = {
            "start": entity_id,
            "depth": depth,
            **self._times(as_of, known_at),
        }
        if typed:
            params["types"] = list(types or [])
            refuse_nul("types", params["types"])
        with self._db.transaction(settings=self._walk.settings) as conn:
            return self._walk.neighbors(conn, entity_id, direction, typed, params)
