"""The graph component's tables: versioned rows of entities and of relationships
(bi-temporal columns from `llmspell.storage.bitemporal`)."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, PrimaryKeyConstraint, Table, Text

from llmspell.storage.bitemporal import temporal_columns
from llmspell.storage.schema import json_column_type, metadata, tenant_column

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
    Index("ix_graph_relationships_tenant_id_from_id", "tenant_id", "from_id"),
    Index("ix_graph_relationships_tenant_id_to_id", "tenant_id", "to_id"),
)
