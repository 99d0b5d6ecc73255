"""graph: on PostgreSQL the walk's indexes are looked up by (tenant, id) alone, the period
columns and the far end carried as INCLUDE columns instead of key columns.

A step of the walk still reads only index entries; the validity periods are checked as filters
on them. Measured on a graph with history (70 % of 10K entities / 50K edges changed 1-3 times),
the 4-hop walk took 9.2 instead of 10.1 ms, and 10.8 instead of 11.1 ms on one version of
each (`benchmarks/graph_history_bench.py`, both index forms side by side). SQLite has no
INCLUDE: its indexes stay as 0012 made them. Row-level security is unchanged (indexes carry no
policy).

Downgrade: 0012's indexes made again on PostgreSQL.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Frozen here (as 0016 makes them), not read from the schema module, which may change later:
# (index, table, looked up by, carried).
PERIODS = ["valid_from", "valid_to", "recorded_at", "superseded_at"]
WALK_INDEXES = [
    ("ix_graph_entities_walk", "graph_entities", ["tenant_id", "entity_id"], PERIODS),
    (
        "ix_graph_relationships_walk_out",
        "graph_relationships",
        ["tenant_id", "from_id"],
        [*PERIODS, "to_id", "type"],
    ),
    (
        "ix_graph_relationships_walk_in",
        "graph_relationships",
        ["tenant_id", "to_id"],
        [*PERIODS, "from_id", "type"],
    ),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, lookup, carried in WALK_INDEXES:
        op.drop_index(name, table)
        op.create_index(name, table, lookup, postgresql_include=carried)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, table, lookup, carried in WALK_INDEXES:
        op.drop_index(name, table)
        op.create_index(name, table, [*lookup, *carried])
