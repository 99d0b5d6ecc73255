"""The event log's partition functions keep the app role near now: it creates partitions only
from the month before the current one to 25 months ahead, and drops only months that are over.

Before, the app role could call `llmspell_event_log_ensure_partitions(now() + interval '30
years', 120)` and make 120 tables. The functions now compare the login (`session_user`) with
their owner: a login that may act as the owner (or a superuser) keeps every month; any other
gets a clear error naming the window (see storage/postgres/partitions.py). CREATE OR REPLACE
keeps the functions' grants.

Downgrade: the functions as 0004 made them (frozen here: partitions.py holds only the current
ones).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.components.events import EVENT_LOG_PARTITIONS as PARTITIONS

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SCHEMA = "@@SCHEMA@@"
UNCAPPED_0004 = (
    """
CREATE OR REPLACE FUNCTION llmspell_event_log_ensure_partitions(
    first_month timestamptz, months integer
) RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER
SET search_path = @@SCHEMA@@, pg_temp AS $fn$
DECLARE
    created text[] := '{}';
    lo timestamp;  -- month bounds in UTC wall time, so the session TimeZone plays no part
    hi timestamp;
    part text;
BEGIN
    IF months IS NULL OR months < 1 OR months > 120 THEN
        RAISE EXCEPTION 'months must be 1-120, got %', months;
    END IF;
    PERFORM pg_advisory_xact_lock(1819046004);
    lo := date_trunc('month', first_month AT TIME ZONE 'UTC');
    FOR i IN 1 .. months LOOP
        hi := lo + interval '1 month';
        part := 'event_log_p' || to_char(lo, 'YYYY_MM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            -- Rows the DEFAULT partition caught for this month move into the new partition
            -- (ATTACH would refuse while they are there).
            EXECUTE format('CREATE TABLE %I (LIKE event_log INCLUDING DEFAULTS)', part);
            EXECUTE format(
                'WITH moved AS (DELETE FROM event_log_default '
                'WHERE timestamp >= %L AND timestamp < %L '
                'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                lo::text || '+00', hi::text || '+00', part);
            EXECUTE format(
                'ALTER TABLE event_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part, lo::text || '+00', hi::text || '+00');
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
            created := created || part;
        END IF;
        lo := hi;
    END LOOP;
    RETURN created;
END
$fn$
""",
    """
CREATE OR REPLACE FUNCTION llmspell_event_log_drop_expired_partitions(older_than timestamptz)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER
SET search_path = @@SCHEMA@@, pg_temp AS $fn$
DECLARE
    dropped text[] := '{}';
    candidates text[];
    part text;
    live boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(1819046004);
    SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{}') INTO candidates
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'event_log'::regclass
      AND c.relname ~ '^event_log_p[0-9]{4}_[0-9]{2}$'
      AND (to_date(substring(c.relname from '[0-9]{4}_[0-9]{2}$'), 'YYYY_MM')::timestamp
           + interval '1 month') AT TIME ZONE 'UTC' <= older_than;
    IF cardinality(candidates) = 0 THEN
        RETURN dropped;
    END IF;
    -- The parent first (as an insert locks it): no row can arrive between check and drop.
    LOCK TABLE event_log IN ACCESS EXCLUSIVE MODE;
    FOREACH part IN ARRAY candidates LOOP
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM %I WHERE expires_at IS NULL OR expires_at > now())',
            part)
            INTO live;
        IF NOT live THEN
            EXECUTE format('DROP TABLE %I', part);
            dropped := dropped || part;
        END IF;
    END LOOP;
    RETURN dropped;
END
$fn$
""",
)


def _schema(bind: sa.Connection) -> str:
    return str(bind.execute(sa.text("SELECT current_schema()")).scalar_one())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        quote = bind.dialect.identifier_preparer.quote
        for statement in PARTITIONS.functions_sql(_schema(bind), quote):
            op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        schema = bind.dialect.identifier_preparer.quote(_schema(bind))
        for statement in UNCAPPED_0004:
            op.execute(statement.strip().replace(SCHEMA, schema))
