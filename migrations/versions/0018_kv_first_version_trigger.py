"""kv/state: the database records a key's first version too (a trigger on INSERT into kv_entries).

Revision 0015 left a new key's first version to the put itself: a second statement from Python
after the upsert. An AFTER INSERT trigger copies the new entry into kv_history, so every put is
one statement. Copies (`storage migrate`, `storage restore`) write a unit's history rows
themselves: on PostgreSQL the trigger does not fire while the copy's transaction has
`llmspell.copying` on (it runs 0015's function, as the invoking role, so row-level security
checks the history row); on SQLite a copy's INSERT skips the first versions the trigger already
wrote. No table changes; row-level security is unchanged.

Downgrade: the trigger dropped; the code of revision 0017 records a key's first version itself.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The SQL as this revision made it, frozen here: the live module may change its triggers later
# (in a revision of their own), and that must not change what 0018 did.
_HISTORY_COLUMNS = 'tenant_id, scope, "key", version, value, updated_at'
_NEW_ROW = 'NEW.tenant_id, NEW.scope, NEW."key", NEW.version, NEW.value, NEW.updated_at'
_INSERTED = "AFTER INSERT ON kv_entries FOR EACH ROW"
CREATE = {
    "postgresql": [
        f"CREATE TRIGGER kv_entries_record_first {_INSERTED} "
        "WHEN (current_setting('llmspell.copying', true) IS DISTINCT FROM 'on') "
        "EXECUTE FUNCTION llmspell_kv_record_version()"
    ],
    "sqlite": [
        f"CREATE TRIGGER kv_entries_record_first {_INSERTED} BEGIN "
        f"INSERT INTO kv_history ({_HISTORY_COLUMNS}) VALUES ({_NEW_ROW}); END"
    ],
}
DROP = {
    "postgresql": ["DROP TRIGGER IF EXISTS kv_entries_record_first ON kv_entries"],
    "sqlite": ["DROP TRIGGER IF EXISTS kv_entries_record_first"],
}


def upgrade() -> None:
    for statement in CREATE[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
