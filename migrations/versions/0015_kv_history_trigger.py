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

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# The SQL as this revision made it, frozen here: the live module changes its triggers in later
# revisions (0018 records a key's first version too), and that must not change what 0015 did.
_HISTORY_COLUMNS = 'tenant_id, scope, "key", version, value, updated_at'
_NEW_ROW = 'NEW.tenant_id, NEW.scope, NEW."key", NEW.version, NEW.value, NEW.updated_at'
_INSERT_NEW = f"INSERT INTO kv_history ({_HISTORY_COLUMNS}) VALUES ({_NEW_ROW});"
_WHEN = "AFTER UPDATE OF version ON kv_entries FOR EACH ROW WHEN (NEW.version > OLD.version)"
CREATE = {
    "postgresql": [
        "CREATE FUNCTION llmspell_kv_record_version() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {_INSERT_NEW} RETURN NULL; END $$",
        f"CREATE TRIGGER kv_entries_record_version {_WHEN} "
        "EXECUTE FUNCTION llmspell_kv_record_version()",
    ],
    "sqlite": [f"CREATE TRIGGER kv_entries_record_version {_WHEN} BEGIN {_INSERT_NEW} END"],
}
DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS kv_entries_record_version ON kv_entries",
        "DROP FUNCTION IF EXISTS llmspell_kv_record_version()",
    ],
    "sqlite": ["DROP TRIGGER IF EXISTS kv_entries_record_version"],
}


def upgrade() -> None:
    for statement in CREATE[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
