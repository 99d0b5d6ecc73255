"""The graph component's tables: versioned rows of entities and of relationships
(bi-temporal columns from `llmspell.storage.bitemporal`).

The walk's indexes hold every column a step of the walk reads, so a step is answered from the
index alone: whether an entity is valid at the lookup times, and which valid edges leave (or
enter) an entity and where they lead. They are looked up by (tenant, id); on SQLite the period
columns and the far end follow as key columns (migration 0012), on PostgreSQL as INCLUDE
columns (migration 0016), which walks a graph with history faster there."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from llmspell.storage.bitemporal import temporal_columns
from llmspell.storage.schema import dialect_indexes, json_column_type, metadata, tenant_column

# The bi-temporal period columns, in the order of `temporal_columns`.
PERIODS = ("valid_from", "valid_to", "recorded_at", "superseded_at")

graph_entities = Table(
    "graph_entities",
    metadata,
    tenant_column(),
    Column("entity_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("properties", json_column_type(), nullable=False),
    *temporal_columns(),
    PrimaryKeyConstraint("tenant_id", "entity_id", "version"),
    Index("ix_graph_entities_tenant_id_type", "tenant_id", "type"),
    Index("ix_graph_entities_tenant_id_name", "tenant_id", "name"),
    *dialect_indexes("ix_graph_entities_walk", ["tenant_id", "entity_id"], [*PERIODS]),
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
    Column("properties", json_column_type(), nullable=False),
    *temporal_columns(),
    PrimaryKeyConstraint("tenant_id", "relationship_id", "version"),
    *dialect_indexes(
        "ix_graph_relationships_walk_out", ["tenant_id", "from_id"], [*PERIODS, "to_id", "type"]
    ),
    *dialect_indexes(
        "ix_graph_relationships_walk_in", ["tenant_id", "to_id"], [*PERIODS, "from_id", "type"]
    ),
)
