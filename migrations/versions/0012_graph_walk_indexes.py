"""Covering indexes for the graph walk: a step reads only index entries.

`ix_graph_entities_walk` (tenant, entity, the four period columns) answers whether an entity
is valid at the lookup times; `ix_graph_relationships_walk_out` / `_walk_in` (tenant, the near
end, the period columns, the far end, the type) replace the (tenant, from_id) and
(tenant, to_id) indexes, whose lookups they serve as well. Row-level security is unchanged
(indexes carry no policy).

Downgrade: the walk indexes dropped, 0006's two relationship indexes made again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Frozen here (as 0012 makes them), not read from the schema module, which may change later.
PERIODS = ["valid_from", "valid_to", "recorded_at", "superseded_at"]


def upgrade() -> None:
    op.create_index(
        "ix_graph_entities_walk", "graph_entities", ["tenant_id", "entity_id", *PERIODS]
    )
    op.create_index(
        "ix_graph_relationships_walk_out",
        "graph_relationships",
        ["tenant_id", "from_id", *PERIODS, "to_id", "type"],
    )
    op.create_index(
        "ix_graph_relationships_walk_in",
        "graph_relationships",
        ["tenant_id", "to_id", *PERIODS, "from_id", "type"],
    )
    op.drop_index("ix_graph_relationships_tenant_id_from_id", "graph_relationships")
    op.drop_index("ix_graph_relationships_tenant_id_to_id", "graph_relationships")


def downgrade() -> None:
    op.create_index(
        "ix_graph_relationships_tenant_id_from_id", "graph_relationships", ["tenant_id", "from_id"]
    )
    op.create_index(
        "ix_graph_relationships_tenant_id_to_id", "graph_relationships", ["tenant_id", "to_id"]
    )
    op.drop_index("ix_graph_relationships_walk_in", "graph_relationships")
    op.drop_index("ix_graph_relationships_walk_out", "graph_relationships")
    op.drop_index("ix_graph_entities_walk", "graph_entities")
