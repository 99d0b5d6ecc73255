"""kv/state: the database records each new version of a key (a trigger on kv_entries).

An UPDATE of kv_entries that raises `version` (a put of an existing key) copies the new row
into kv_history, so a put is one statement from Python instead of two. A key's first version
is still recorded by the put itself: copies (`storage migrate`, `storage restore`) insert entries
with their history rows, which an INSERT trigger would record twice. PostgreSQL runs the
trigger through a PL/pgSQL function as the invoking role, so row-level security checks the
history row as it checked the put's own INSERT. No table changes; row-level security is
unchanged.

Downgrade: the trigger (and the function) dropped; the code of revision 0014 records every
version itself.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from llmspell.storage.components.kv import drop_record_version_sql, record_version_sql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in record_version_sql(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_record_version_sql(op.get_bind().dialect.name):
        op.execute(statement)
