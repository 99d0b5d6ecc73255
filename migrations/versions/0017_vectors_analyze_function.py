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

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# The SQL as this revision made it, frozen here: the live module may change its function later
# (in a revision of its own), and that must not change what 0017 did.
ANALYZE_FUNCTION = "llmspell_vectors_analyze"
_DIMENSIONS = "128, 256, 384, 512, 768, 1024, 1536, 3072"
CREATE = [
    f"CREATE OR REPLACE FUNCTION {ANALYZE_FUNCTION}(dimension integer) RETURNS void "
    "LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $fn$ BEGIN "
    f"IF dimension IS NULL OR NOT dimension = ANY (ARRAY[{_DIMENSIONS}]) THEN "
    f"RAISE EXCEPTION 'dimension must be one of {_DIMENSIONS}, got %', dimension; END IF; "
    "EXECUTE format('ANALYZE %I', 'vectors_' || dimension); END $fn$",
    f"REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION}(integer) FROM PUBLIC",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for statement in CREATE:
            op.execute(statement)
        # Pinned to the schema of the tables, as the partition functions of 0011 are: a
        # SECURITY DEFINER function must not resolve names through a caller's schema.
        schema = str(bind.execute(sa.text("SELECT current_schema()")).scalar_one())
        quoted = bind.dialect.identifier_preparer.quote(schema)
        op.execute(
            f"ALTER FUNCTION {ANALYZE_FUNCTION}(integer) SET search_path = {quoted}, pg_temp"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {ANALYZE_FUNCTION}(integer)")
