"""Monthly range partitions of a PostgreSQL table: created ahead, dropped when only expired data
is left, and a DEFAULT partition so no insert ever fails for lack of one.

The app role may neither create nor drop tables, so both jobs are `SECURITY DEFINER` functions
owned by the schema owner; the app role may only EXECUTE them (`storage upgrade` grants it),
and only near now: it creates partitions from the month before the current one to
`APP_MONTHS_AHEAD` + 1 months after it, and drops only partitions that ended before the current
month. Partitions anywhere else are the owner's job (`storage.postgres.admin_url`), so a
caller holding the app role's connection cannot create tables in bulk or far ahead.
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
MAX_MONTHS = 120  # per call, for the owner
# How far ahead the app keeps partitions at most (`partition_months_ahead`); the functions let
# the app role create partitions from the month before now's to one month past this.
APP_MONTHS_AHEAD = 24
# The month before now's and one past the app's horizon: a client clock on the other side of a
# month boundary than the server's still lands inside.
APP_WINDOW_MONTHS = 1 + 1 + APP_MONTHS_AHEAD + 1


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

    def ensure_statement(self) -> Select[list[str]]:
        """SELECT the ensure function: partitions for `months` months from `first_month`'s;
        returns the names it created."""
        fn = getattr(func, self.ensure_function)
        return select(fn(bindparam("first_month"), bindparam("months")))

    def drop_statement(self) -> Select[list[str]]:
        """SELECT the drop function: drops partitions ending at or before `older_than` that
        hold no live row; returns their names."""
        fn = getattr(func, self.drop_function)
        return select(fn(bindparam("older_than")))

    def create_sql(self, schema: str, quote: Callable[[str], str]) -> list[str]:
        """DDL (after the partitioned parent exists): the DEFAULT partition and both functions,
        executable by nobody until `storage upgrade` grants the app role."""
        default = quote(self.default_partition)
        return [
            f"CREATE TABLE {default} PARTITION OF {quote(self.table)} DEFAULT",
            f"ALTER TABLE {default} ENABLE ROW LEVEL SECURITY",
            *self.functions_sql(schema, quote),
            f"REVOKE ALL ON FUNCTION {quote(self.ensure_function)}(timestamptz, integer) "
            "FROM PUBLIC",
            f"REVOKE ALL ON FUNCTION {quote(self.drop_function)}(timestamptz) FROM PUBLIC",
        ]

    def functions_sql(self, schema: str, quote: Callable[[str], str]) -> list[str]:
        """CREATE OR REPLACE of both functions (a replaced function keeps its grants)."""
        table, column = quote(self.table), quote(self.column)
        default = quote(self.default_partition)
        # `search_path` is pinned: a SECURITY DEFINER function must not resolve names through
        # a caller's schema. Name patterns below use the unquoted table name on purpose.
        path = f"SET search_path = {quote(schema)}, pg_temp"
        # Inside a SECURITY DEFINER function current_user is the owner; session_user is who
        # logged in. A login that may act as the owner (or a superuser) has no window.
        is_owner = "pg_has_role(session_user, current_user, 'MEMBER')"
        this_month = "date_trunc('month', now() AT TIME ZONE 'UTC')"
        ensure = f"""
CREATE OR REPLACE FUNCTION {quote(self.ensure_function)}(first_month timestamptz, months integer)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER {path} AS $fn$
DECLARE
    created text[] := '{{}}';
    lo timestamp;  -- month bounds in UTC wall time, so the session TimeZone plays no part
    hi timestamp;
    earliest timestamp := {this_month} - interval '1 month';
    latest timestamp := {this_month} + interval '{APP_WINDOW_MONTHS - 1} months';
    part text;
BEGIN
    IF months IS NULL OR months < 1 OR months > {MAX_MONTHS} THEN
        RAISE EXCEPTION 'months must be 1-{MAX_MONTHS}, got %', months;
    END IF;
    lo := date_trunc('month', first_month AT TIME ZONE 'UTC');
    IF lo IS NULL THEN
        RAISE EXCEPTION 'first_month must be a timestamp, got NULL';
    END IF;
    IF NOT {is_owner}
       AND (lo < earliest OR lo + make_interval(months => months) > latest) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format(
                'role %s may create {self.table} partitions only from %s to %s (the month '
                'before this one to {APP_MONTHS_AHEAD + 1} months ahead), not %s to %s',
                session_user, to_char(earliest, 'YYYY-MM'),
                to_char(latest - interval '1 month', 'YYYY-MM'), to_char(lo, 'YYYY-MM'),
                to_char(lo + make_interval(months => months - 1), 'YYYY-MM')),
            HINT = 'other partitions are made by the owner of the tables '
                '(storage.postgres.admin_url)';
    END IF;
    PERFORM pg_advisory_xact_lock({PARTITION_LOCK});
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
CREATE OR REPLACE FUNCTION {quote(self.drop_function)}(older_than timestamptz)
RETURNS text[] LANGUAGE plpgsql SECURITY DEFINER {path} AS $fn$
DECLARE
    dropped text[] := '{{}}';
    candidates text[];
    part text;
    live boolean;
BEGIN
    IF NOT {is_owner} AND older_than > {this_month} AT TIME ZONE 'UTC' THEN
        older_than := {this_month} AT TIME ZONE 'UTC';  -- the app drops only months now over
    END IF;
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
        return [ensure.strip(), drop.strip()]

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
