"""PostgreSQL: a function that lets the app role ANALYZE a vectors table after a fold.

Deferred indexing (0014) marks rows `indexed` long after autovacuum may have sampled them as
not indexed; until the next autovacuum the planner then sorts a whole namespace instead of
asking the partial HNSW index. The fold calls `llmspell_vectors_analyze(dimension)` when it
has emptied a large tail. SECURITY DEFINER (the owner analyzes), search_path pinned to the tables'
schema, EXECUTE revoked from PUBLIC (the app role gets it with the schema's other
functions). No table changes; row-level security is unchanged. SQLite: nothing.

Downgrade: the function dropped.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.components.vectors.tables import (
    ANALYZE_FUNCTION,
    analyze_function_sql,
    drop_analyze_function_sql,
)

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for statement in analyze_function_sql(bind.dialect.name):
        op.execute(statement)
    if bind.dialect.name == "postgresql":
        # Pinned to the schema of the tables, as the partition functions of 0011 are: a
        # SECURITY DEFINER function must not resolve names through a caller's schema.
        schema = str(bind.execute(sa.text("SELECT current_schema()")).scalar_one())
        quoted = bind.dialect.identifier_preparer.quote(schema)
        op.execute(
            f"ALTER FUNCTION {ANALYZE_FUNCTION}(integer) SET search_path = {quoted}, pg_temp"
        )


def downgrade() -> None:
    for statement in drop_analyze_function_sql(op.get_bind().dialect.name):
        op.execute(statement)
