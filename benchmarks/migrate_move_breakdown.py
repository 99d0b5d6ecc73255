"""Where a migration's PostgreSQL time goes (a script, not a test): the CPU seconds of the one
backend that loads a unit, per part of the staged COPY and move, on the embedded server.

    python benchmarks/migrate_move_breakdown.py [--items N] [--batch-size N] [--runs N]

The same N kv entries as migrate_bench (formatted by SQLite as migrate formats them) are
COPYed batch by batch into a temporary table and moved into kv_entries, each variant in its
own transaction under a fresh tenant into the emptied table, `--runs` times, interleaved.
Printed: the medians of the backend's CPU seconds for the COPYs into the staging table and for
the moves. The variants:

  move                 the move as `migrate --no-validate` runs it: the app role, forced
                       row-level security (its WITH CHECK), the first-version trigger whose
                       WHEN sees llmspell.copying on, the primary key index;
  move, no trigger     the same with the first-version trigger disabled (its WHEN's cost);
  move, no RLS         the owner with FORCE lifted and the trigger disabled (the policy's cost);
  move, no index       the owner into a scratch copy without indexes (the primary key's cost);
  hashed move          the move as a validated migrate runs it (`copy_text.hashed_move`: the
                       stored rows printed as COPY lines, ordered, joined and hashed);
  owner COPY           the owner COPYs straight into kv_entries with FORCE lifted: no staging
                       table and no INSERT ... SELECT (what row-level security rules out);
  owner COPY + hash    that, and the stored rows printed and hashed afterwards (read back).

The table's trigger and row-level security are altered for some variants: the embedded
server is a scratch one, started for this run and removed after it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from migrate_bench import TENANT, emptied, fill_source, formatted
from psycopg import sql
from sqlalchemy.dialects import postgresql
from storage_bench import postgres_logins

from llmspell.storage.components.kv import kv_entries
from llmspell.storage.ops.copy_text import hashed_move
from llmspell.storage.postgres.urls import connect
from llmspell.storage.schema import COPYING_SETTING
from llmspell.storage.tenancy import TENANT_SETTING

COLUMNS = sql.SQL(", ").join(sql.Identifier(column.name) for column in kv_entries.columns)
TRIGGER = "kv_entries_record_first"


def backend_cpu(conn: Any) -> float:
    """CPU seconds the connection's server process has used so far."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def hashed_sql(escaped: bool) -> tuple[str, dict[str, Any]]:
    """`hashed_move` of kv_entries from the staging table, as SQL and its parameters."""
    compiled = hashed_move(kv_entries, "bench_stage", escaped).compile(dialect=postgresql.dialect())
    return str(compiled), dict(compiled.params)


def staged(
    url: str, chunks: list[bytes], target: str, move: str | tuple[str, dict[str, Any]]
) -> tuple[float, float]:
    """CPU seconds of the COPYs into the staging table and of the moves into `target`
    (`move`: SQL with {target} and {columns}, or SQL and its parameters)."""
    tenant = f"{TENANT}-{time.time_ns()}"
    old, new = f"{TENANT}\t".encode(), f"{tenant}\t".encode()
    chunks = [chunk.replace(old, new) for chunk in chunks]
    copying = copy_cpu = move_cpu = 0.0
    with connect(url) as conn:
        conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant))
        conn.execute("SELECT set_config(%s, 'on', true)", (COPYING_SETTING,))
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        conn.execute("SET LOCAL DateStyle = 'ISO'")
        conn.execute(
            sql.SQL("CREATE TEMPORARY TABLE bench_stage (LIKE {}) ON COMMIT DROP").format(
                sql.Identifier(target)
            )
        )
        if isinstance(move, str):
            statement: Any = sql.SQL(move).format(target=sql.Identifier(target), columns=COLUMNS)
            params = None
        else:
            statement, params = move
        with conn.cursor() as cursor:
            for chunk in chunks:
                copying = backend_cpu(conn)
                with cursor.copy(
                    sql.SQL("COPY bench_stage ({}) FROM STDIN").format(COLUMNS)
                ) as copy:
                    copy.write(chunk)
                moving = backend_cpu(conn)
                copy_cpu += moving - copying
                cursor.execute(statement, params)
                if cursor.description:
                    cursor.fetchall()
                move_cpu += backend_cpu(conn) - moving
                cursor.execute("TRUNCATE bench_stage")
        conn.commit()
    return copy_cpu, move_cpu


def owner_copy(owner_url: str, chunks: list[bytes], hashed: bool) -> tuple[float, float]:
    """CPU seconds of COPYs straight into kv_entries as the owner with FORCE lifted, and of
    printing and hashing the stored rows afterwards (`hashed`)."""
    tenant = f"{TENANT}-{time.time_ns()}"
    old, new = f"{TENANT}\t".encode(), f"{tenant}\t".encode()
    line = "concat_ws(E'\\t', tenant_id, scope, key, value, version, updated_at::timestamp)"
    with connect(owner_url) as conn:
        conn.execute("SELECT set_config(%s, 'on', true)", (COPYING_SETTING,))
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        conn.execute("SET LOCAL DateStyle = 'ISO'")
        start = backend_cpu(conn)
        conn.execute("ALTER TABLE kv_entries NO FORCE ROW LEVEL SECURITY")
        with conn.cursor() as cursor:
            for chunk in chunks:
                with cursor.copy(
                    sql.SQL("COPY kv_entries ({}) FROM STDIN").format(COLUMNS)
                ) as copy:
                    copy.write(chunk.replace(old, new))
        copied = backend_cpu(conn)
        if hashed:
            conn.execute(
                f"SELECT count(*), md5(string_agg({line}, E'\\n' ORDER BY scope COLLATE \"C\", "
                f"key COLLATE \"C\") || E'\\n') FROM kv_entries WHERE tenant_id = %s",
                (tenant,),
            ).fetchall()
        hashed_cpu = backend_cpu(conn) - copied
        conn.execute("ALTER TABLE kv_entries FORCE ROW LEVEL SECURITY")
        conn.commit()
    return copied - start, hashed_cpu


def owner_sql(owner_url: str, *statements: str) -> None:
    with connect(owner_url) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("LLMSPELL_BENCH_PG_URL"):
        parser.error("the breakdown reads the backend's CPU from /proc: embedded server only")
    move = "INSERT INTO {target} ({columns}) SELECT {columns} FROM bench_stage"
    plain = hashed_sql(escaped=False)
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as directory, postgres_logins() as logins:
        path = Path(directory) / "source.db"
        fill_source(path, args.items)
        chunks = formatted(path, args.batch_size)
        app, owner = logins.app_url, logins.owner_url
        owner_sql(owner, "CREATE TABLE bench_kv_plain (LIKE kv_entries)")
        variants: list[tuple[str, Callable[[], tuple[float, float]], list[str]]] = [
            ("move", lambda: staged(app, chunks, "kv_entries", move), []),
            (
                "move, no trigger",
                lambda: staged(app, chunks, "kv_entries", move),
                [f"ALTER TABLE kv_entries DISABLE TRIGGER {TRIGGER}"],
            ),
            (
                "move, no RLS",
                lambda: staged(owner, chunks, "kv_entries", move),
                ["ALTER TABLE kv_entries NO FORCE ROW LEVEL SECURITY"],
            ),
            ("move, no index", lambda: staged(owner, chunks, "bench_kv_plain", move), []),
            (
                "hashed move",
                lambda: staged(app, chunks, "kv_entries", plain),
                [
                    "ALTER TABLE kv_entries FORCE ROW LEVEL SECURITY",
                    f"ALTER TABLE kv_entries ENABLE TRIGGER {TRIGGER}",
                ],
            ),
            ("owner COPY", lambda: owner_copy(owner, chunks, hashed=False), []),
            ("owner COPY + hash", lambda: owner_copy(owner, chunks, hashed=True), []),
        ]
        for _ in range(args.runs):
            for name, variant, before in variants:
                if before:
                    owner_sql(owner, *before)
                results.setdefault(name, []).append(variant())
                emptied(owner)  # every variant writes into the same empty table
                owner_sql(owner, "TRUNCATE bench_kv_plain")
    print(
        f"backend CPU seconds per {args.items} kv items, batches of {args.batch_size} "
        f"(medians of {args.runs} runs)"
    )
    print(f"  {'':<20} {'COPY':>6} {'move/hash':>10} {'total':>6}")
    for name, samples in results.items():
        first = statistics.median(sample[0] for sample in samples)
        second = statistics.median(sample[1] for sample in samples)
        total = statistics.median(sample[0] + sample[1] for sample in samples)
        print(f"  {name:<20} {first:>6.2f} {second:>10.2f} {total:>6.2f}")


if __name__ == "__main__":
    main()
