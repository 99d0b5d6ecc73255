"""Monthly range partitions of a PostgreSQL table: created ahead, dropped when only expired data
is left, and a DEFAULT partition so no insert ever fails for lack of one.

The app role may neither create nor drop tables, so both jobs are `SECURITY DEFINER` functions
owned by the schema owner; the app role may only EXECUTE them (`storage upgrade` grants it).
Row-level security lives on the parent (enabled and forced, the tenant policy): every read and
write of the app goes through the parent, which is where PostgreSQL applies policies. Each
partition has RLS enabled with no policy and no grants, so nobody but the owner reads one
directly — and the owner (not forced there) can confirm a partition holds only expired rows of
every tenant before dropping it, which a tenant-scoped query could never confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, bindparam, func, select

# pg_advisory_xact_lock key shared by both functions: one partition change at a time.
PARTITION_LOCK = 0x6C6C7074  # "llpt"
MAX_MONTHS = 120


@dataclass(frozen=True)
class MonthlyPartitioning:
    """The partitioning of `table` by month of `column` (a timestamptz, UTC months).

    `live_rows` is the SQL predicate (no quotes) of a row that retention must keep: a partition
    is dropped only when no row matches it.
    """

    table: str
    column: str
    live_rows: str

    @property
    def default_partition(self) -> str:
        return f"{self.table}_default"

    @property
    def ensure_function(self) -> str:
        return f"llmspell_{self.table}_ensure_partitions"

    @property
    def drop_function(self) -> str:
        return f"llmspell_{self.table}_drop_expired_partitions"

    def partition_name(self, month: datetime) -> str:
        """`event_log_p2026_01` for any moment in January 2026 (UTC)."""
        month = month.astimezone(UTC)
        return f"{self.table}_p{month.year:04d}_{month.month:02d}"

    def ensure_statement(self) -> Select[tuple[list[str]]]:
        """SELECT the ensure function: partitions for `months` months from `first_month`'s;
        returns the names it created."""
        fn = getattr(func, self.ensure_function)
        return select(fn(bindparam("first_month"), bindparam("months")))

    def drop_statement(self) -> Select[tuple[list[str]]]:
        """SELECT the drop function: drops partitions ending at or before `older_than` that
        hold no live row; returns their names."""
        fn = getattr(func, self.drop_function)
        return select(fn(bindparam("older_than")))

    def create_sql(self, schema: str, quote: Callable[[str], str]) -> list[str]:
        """DDL (after the partitioned parent exists): the DEFAULT partition and both functions,
        executable by nobody until `storage upgrade` grants the app role."""
        table, column = quote(self.table), quote(self.column)
        default = quote(self.default_partition)
        # `search_path` is pinned: a SECURITY DEFINER function must not resolve names through
        # a caller's schema. Name patterns below use the unquoted table name on purpose.
        path = f"SET search_path = {quote(schema)}, pg_temp"
        ensure = f"""
CREATE FUNCTION {quote(self.ensure_function)}(first_month timestamptz, months integer)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER {path} AS $fn$
DECLARE
    created text[] := '{{}}';
    lo timestamp;  -- month bounds in UTC wall time, so the session TimeZone plays no part
    hi timestamp;
    part text;
BEGIN
    IF months IS NULL OR months < 1 OR months > {MAX_MONTHS} THEN
        RAISE EXCEPTION 'months must be 1-{MAX_MONTHS}, got %', months;
    END IF;
    PERFORM pg_advisory_xact_lock({PARTITION_LOCK});
    lo := date_trunc('month', first_month AT TIME ZONE 'UTC');
    FOR i IN 1 .. months LOOP
        hi := lo + interval '1 month';
        part := '{self.table}_p' || to_char(lo, 'YYYY_MM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            -- Rows the DEFAULT partition caught for this month move into the new partition
            -- (ATTACH would refuse while they are there).
            EXECUTE format('CREATE TABLE %I (LIKE {table} INCLUDING DEFAULTS)', part);
            EXECUTE format(
                'WITH moved AS (DELETE FROM {default} WHERE {column} >= %L AND {column} < %L '
                'RETURNING *) INSERT INTO %I SELECT * FROM moved',
                lo::text || '+00', hi::text || '+00', part);
            EXECUTE format('ALTER TABLE {table} ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                part, lo::text || '+00', hi::text || '+00');
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', part);
            created := created || part;
        END IF;
        lo := hi;
    END LOOP;
    RETURN created;
END
$fn$"""
        drop = f"""
CREATE FUNCTION {quote(self.drop_function)}(older_than timestamptz)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER {path} AS $fn$
DECLARE
    dropped text[] := '{{}}';
    candidates text[];
    part text;
    live boolean;
BEGIN
    PERFORM pg_advisory_xact_lock({PARTITION_LOCK});
    SELECT coalesce(array_agg(c.relname::text ORDER BY c.relname), '{{}}') INTO candidates
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = '{table}'::regclass
      AND c.relname ~ '^{self.table}_p[0-9]{{4}}_[0-9]{{2}}$'
      AND (to_date(substring(c.relname from '[0-9]{{4}}_[0-9]{{2}}$'), 'YYYY_MM')::timestamp
           + interval '1 month') AT TIME ZONE 'UTC' <= older_than;
    IF cardinality(candidates) = 0 THEN
        RETURN dropped;
    END IF;
    -- The parent first (as an insert locks it): no row can arrive between check and drop.
    LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;
    FOREACH part IN ARRAY candidates LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE {self.live_rows})', part)
            INTO live;
        IF NOT live THEN
            EXECUTE format('DROP TABLE %I', part);
            dropped := dropped || part;
        END IF;
    END LOOP;
    RETURN dropped;
END
$fn$"""
        return [
            f"CREATE TABLE {default} PARTITION OF {table} DEFAULT",
            f"ALTER TABLE {default} ENABLE ROW LEVEL SECURITY",
            ensure.strip(),
            drop.strip(),
            f"REVOKE ALL ON FUNCTION {quote(self.ensure_function)}(timestamptz, integer) "
            "FROM PUBLIC",
            f"REVOKE ALL ON FUNCTION {quote(self.drop_function)}(timestamptz) FROM PUBLIC",
        ]

    def drop_sql(self, quote: Callable[[str], str]) -> list[str]:
        """DDL removing both functions (dropping the parent drops the partitions)."""
        return [
            f"DROP FUNCTION IF EXISTS {quote(self.ensure_function)}(timestamptz, integer)",
            f"DROP FUNCTION IF EXISTS {quote(self.drop_function)}(timestamptz)",
        ]


def month_start(moment: datetime) -> datetime:
    """The first instant (UTC) of the month of `moment`."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: datetime, months: int) -> datetime:
    """`month` (a month start) moved by `months` months."""
    index = month.year * 12 + month.month - 1 + months
    return month.replace(year=index // 12, month=index % 12 + 1)
