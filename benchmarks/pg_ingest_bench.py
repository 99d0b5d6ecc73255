"""What a RAG ingest's write costs per chunk on PostgreSQL, part by part (a script, not a test).

    python benchmarks/pg_ingest_bench.py [--rows N] [--repeats R]

Writes N rows shaped like `vectors_384` (~90-token content, JSON metadata, a 384-float
embedding) in batches of 256 (`WRITE_BATCH_CHUNKS`) as `executemany` in one transaction each,
into tables that differ by one part at a time, and prints milliseconds per row:
- bare: the table with its primary key and two btree indexes, `{}` metadata;
- + metadata: the JSON metadata a RAG chunk carries;
- + tsvector/GIN: 0007's generated `to_tsvector('english', content)` column and its GIN index
  (what revision 0013 drops);
- + HNSW: pgvector's HNSW index on the embedding (the store's index, pgvector's defaults);
- one row per statement: the bare table written one `execute` per row (the round trips
  `executemany` saves).
The same rows written by raw `sqlite3` into a table with an FTS5 index are the baseline. The
tables are written in turn, R times (the median is printed), so drift on a busy machine hits
each alike. PostgreSQL is the embedded server in a temp dir (or LLMSPELL_BENCH_PG_URL).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from rag_bench import documents
from storage_bench import postgres_logins

from llmspell.storage.postgres.urls import connect

BATCH = 256
DIMENSION = 384
COLUMNS = "tenant_id, id, namespace, document_id, content, metadata, model, created_at, embedding"
TABLE = (
    "CREATE TABLE {name} (tenant_id text NOT NULL, id text NOT NULL, namespace text NOT NULL, "
    "document_id text, content text NOT NULL, metadata jsonb NOT NULL, model text NOT NULL, "
    f"created_at timestamptz NOT NULL, embedding vector({DIMENSION}) NOT NULL{{extra}}, "
    "PRIMARY KEY (tenant_id, id))"
)
TSV = ", content_tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
VARIANTS: dict[str, tuple[str, list[str], bool]] = {
    # name: (extra columns, extra indexes, with metadata)
    "bare": ("", [], False),
    "+ metadata": ("", [], True),
    "+ metadata + tsvector/GIN": (TSV, ["USING gin (content_tsv)"], True),
    "+ metadata + HNSW": ("", ["USING hnsw (embedding vector_cosine_ops)"], True),
    "+ metadata + tsvector/GIN + HNSW (0012)": (
        TSV,
        ["USING gin (content_tsv)", "USING hnsw (embedding vector_cosine_ops)"],
        True,
    ),
}


def rows(n: int) -> list[tuple[object, ...]]:
    from datetime import UTC, datetime

    rng = np.random.default_rng(3)
    embeddings = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    now = datetime.now(UTC)
    return [
        (
            "bench",
            f"c{i}",
            "global",
            doc.id,
            doc.content,
            {"document_id": doc.id, "chunk_index": 0, "tokens": 90, "source": "bench"},
            "wordllama",
            now,
            embeddings[i],
        )
        for i, doc in enumerate(documents(n, seed=n))
    ]


def postgres_writer(url: str, name: str, variant: str, data: list[tuple[object, ...]]) -> float:
    from pgvector.psycopg import register_vector
    from psycopg.types.json import Jsonb

    one_at_a_time = variant == "one row per statement"
    extra, indexes, with_metadata = VARIANTS["bare" if one_at_a_time else variant]
    with connect(url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"DROP TABLE IF EXISTS {name}")
        conn.execute(TABLE.format(name=name, extra=extra))
        conn.execute(f"CREATE INDEX ON {name} (tenant_id, namespace, document_id)")
        conn.execute(f"CREATE INDEX ON {name} (tenant_id, created_at)")
        for index in indexes:
            conn.execute(f"CREATE INDEX ON {name} {index}")
        placeholders = ", ".join(["%s"] * 9)
        insert = f"INSERT INTO {name} ({COLUMNS}) VALUES ({placeholders})"
        params = [(*row[:5], Jsonb(row[5] if with_metadata else {}), *row[6:]) for row in data]
        start = time.perf_counter()
        for i in range(0, len(params), BATCH):
            with conn.transaction(), conn.cursor() as cursor:
                if one_at_a_time:
                    for p in params[i : i + BATCH]:
                        cursor.execute(insert, p)
                else:
                    cursor.executemany(insert, params[i : i + BATCH])
        elapsed = time.perf_counter() - start
        conn.execute(f"DROP TABLE {name}")
    return elapsed


def sqlite_writer(data: list[tuple[object, ...]]) -> float:
    with tempfile.TemporaryDirectory() as directory:
        db = sqlite3.connect(Path(directory) / "bench.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = wal")
        db.execute("PRAGMA synchronous = normal")
        db.execute(
            "CREATE TABLE v (tenant_id text NOT NULL, id text NOT NULL, namespace text NOT NULL, "
            "document_id text, content text NOT NULL, metadata text NOT NULL, model text NOT "
            "NULL, created_at text NOT NULL, embedding blob NOT NULL, PRIMARY KEY (tenant_id, id))"
        )
        db.execute("CREATE INDEX v_doc ON v (tenant_id, namespace, document_id)")
        db.execute("CREATE INDEX v_at ON v (tenant_id, created_at)")
        db.execute(
            "CREATE VIRTUAL TABLE v_fts USING fts5(content, content='v', content_rowid='rowid', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        db.execute(
            "CREATE TRIGGER v_fts_insert AFTER INSERT ON v BEGIN "
            "INSERT INTO v_fts(rowid, content) VALUES (new.rowid, new.content); END"
        )
        params = [
            (*row[:5], json.dumps(row[5]), row[6], str(row[7]), row[8].tobytes())  # type: ignore[union-attr]
            for row in data
        ]
        start = time.perf_counter()
        for i in range(0, len(params), BATCH):
            db.execute("BEGIN")
            db.executemany(f"INSERT INTO v ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           params[i : i + BATCH])  # fmt: skip
            db.execute("COMMIT")
        elapsed = time.perf_counter() - start
        db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = rows(args.rows)
    names = [*VARIANTS, "one row per statement"]
    timings: dict[str, list[float]] = {name: [] for name in ["sqlite3 + FTS5", *names]}
    with postgres_logins() as logins:
        writers: dict[str, Callable[[], float]] = {"sqlite3 + FTS5": lambda: sqlite_writer(data)}
        for i, name in enumerate(names):
            writers[name] = lambda n=name, i=i: postgres_writer(  # type: ignore[misc]
                logins.owner_url, f"bench_ingest_{i}", n, data
            )
        for _ in range(args.repeats):
            for name, write in writers.items():
                timings[name].append(write())
    print(f"{args.rows} rows of {DIMENSION} floats in batches of {BATCH}, median of {args.repeats}")
    for name, samples in timings.items():
        median = statistics.median(samples)
        print(
            f"  {name:<42} {median / args.rows * 1000:6.3f} ms/row {args.rows / median:7.0f} rows/s"
        )


if __name__ == "__main__":
    main()
