"""Memory benchmark (a script, not a test): vector search, episodic adds, graph traversal.

    python benchmarks/memory_bench.py [--backend sqlite|memory|postgres ...] [--vectors N]
                                      [--queries Q] [--episodic E] [--entities V --edges M]
                                      [--graph-runs R] [--part vectors|episodic|graph ...]

Per backend, with a baseline measured in the same run:
- vector search, N x 384 (default 100K), k = 10: p50 latency through the vectors store and
  recall@10 against exact search. SQLite/memory search exactly over the cached numpy matrix;
  PostgreSQL through the HNSW index with the tenant filter (another tenant's rows share the
  table). Baseline: a bare numpy matrix product + top-k over the same vectors.
- episodic add throughput including embedding (wordllama): adds per second one at a time
  (`add`) and in batches of 100 (`add_batch`), against the embedder alone on the same texts.
- graph `neighbors` depth 4 (out) on V entities / M edges (default 10K / 50K): p50 of the one
  recursive CTE, against a breadth-first search over an in-memory adjacency list.
`--part` (repeatable) runs only the parts named (default: all three).
Bulk data is loaded with plain INSERT/COPY (the loading is not what is measured); PostgreSQL is
the embedded server in a temp dir, or LLMSPELL_BENCH_PG_URL (see storage_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, func, insert, not_, select

sys.path.insert(0, str(Path(__file__).parent))
from storage_bench import postgres_logins, timed

from llmspell.runtime.config import EmbeddingsConfig
from llmspell.runtime.embeddings import Embedder, build_provider
from llmspell.runtime.memory.episodic import EpisodicMemory, NewTurn
from llmspell.runtime.retrieval import HybridSearch
from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.graph import graph_entities, graph_relationships
from llmspell.storage.components.vectors import (
    NewVector,
    hnsw_index_name,
    vector_namespaces,
    vector_table,
)

DIM = 384
K = 10
MODEL = "bench-clustered"
EPISODIC_BATCH = 100
EPISODIC_DIM = 256  # wordllama
PARTS = ("vectors", "episodic", "graph")


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def clustered_vectors(n: int, seed: int) -> np.ndarray:
    """Unit vectors around 1,000 fixed centres (the same for every call): closer to real
    embeddings than uniform noise, and queries come from the same distribution as the data."""
    centres = np.random.default_rng(0).normal(size=(1000, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    rows = centres[rng.integers(0, 1000, n)] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = matrix @ query
    top = np.argpartition(-scores, k)[:k]
    return [int(i) for i in top[np.argsort(-scores[top])]]


# -- vectors -----------------------------------------------------------------------------------


def load_vectors_sql(storage: SqlStorage, data: np.ndarray, namespace: str) -> None:
    """Insert rows straight into the table (and the namespace row) in large batches."""
    table = vector_table(DIM)
    now = datetime.now(UTC)
    db = storage.database("vectors")
    with db.transaction(write=True) as conn:
        conn.execute(
            insert(vector_namespaces).values(
                tenant_id=storage.tenant_id, namespace=namespace, model=MODEL, dimension=DIM,
                generation=uuid.uuid4().hex, created_at=now, updated_at=now,
            )
        )  # fmt: skip
        for start in range(0, len(data), 5000):
            conn.execute(
                insert(table),
                [
                    {
                        "tenant_id": storage.tenant_id, "id": f"v{i}", "namespace": namespace,
                        "document_id": None, "content": f"vector {i}", "metadata": {},
                        "model": MODEL, "created_at": now, "event_time": None,
                        "expires_at": None, "embedding": data[i],
                    }
                    for i in range(start, min(start + 5000, len(data)))
                ],
            )  # fmt: skip


def load_vectors_postgres(owner_url: str, tenants: list[tuple[str, np.ndarray]]) -> float:
    """COPY the rows in (binary), then build the HNSW index once; returns the build seconds."""
    import psycopg
    from pgvector.psycopg import register_vector

    table, index = f"vectors_{DIM}", hnsw_index_name(DIM)
    now = datetime.now(UTC)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"DROP INDEX IF EXISTS {index}")
        # COPY refuses tables under row-level security: lift FORCE for the owner's bulk load
        # (the app role stays bound by the policy; FORCE comes back below).
        conn.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        for tenant, data in tenants:
            # The owner is bound by the forced row-level security too: name the tenant.
            conn.execute("SELECT set_config('app.tenant_id', %s, false)", (tenant,))
            conn.execute(
                "INSERT INTO vector_namespaces VALUES (%s, 'bench', %s, %s, %s, %s, %s)",
                (tenant, MODEL, DIM, uuid.uuid4().hex, now, now),
            )
            with conn.cursor().copy(
                f"COPY {table} (tenant_id, id, namespace, content, metadata, model, created_at, "
                "embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(
                    ["text", "text", "text", "text", "jsonb", "text", "timestamptz", "vector"]
                )
                for i, row in enumerate(data):
                    copy.write_row(
                        (tenant, f"{tenant}-{i}", "bench", f"vector {i}", {}, MODEL, now, row)
                    )
        conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")
        started = time.perf_counter()
        conn.execute(
            f"CREATE INDEX {index} ON {table} USING hnsw (embedding vector_cosine_ops) "
            "WHERE indexed"
        )
        built = time.perf_counter() - started
        conn.execute(f"ANALYZE {table}")
    return built


def bench_vector_search(
    storage: SqlStorage, data: np.ndarray, queries: np.ndarray, namespace: str
) -> dict[str, float]:
    """Store search and the numpy floor, interleaved query by query (the machine may be busy:
    both see the same moment)."""
    store = storage.vectors
    store.search(namespace, MODEL, queries[0], K)  # loads the matrix (SQLite) / warms the pool
    searched, floor, truth, found = [], [], [], []
    for query in queries:
        start = time.perf_counter()
        hits = store.search(namespace, MODEL, query, K)
        middle = time.perf_counter()
        truth.append(exact_top(data, query, K))
        searched.append(middle - start)
        floor.append(time.perf_counter() - middle)
        found.append([h.record.id for h in hits])
    prefix = "v" if storage.backend != "postgres" else f"{storage.tenant_id}-"
    recall = statistics.mean(
        len({f"{prefix}{j}" for j in want} & set(got)) / K
        for want, got in zip(truth, found, strict=True)
    )
    return {"p50_ms": p50_ms(searched), "recall_at_10": recall, "numpy_p50_ms": p50_ms(floor)}


# -- episodic adds ------------------------------------------------------------------------------


def bench_episodic(storage: SqlStorage, n: int) -> dict[str, float]:
    texts = [
        f"Turn {i}: the user mentioned topic {i % 97} and detail {i * 7919 % 10007}."
        for i in range(n)
    ]
    embedder = Embedder(build_provider(EmbeddingsConfig()))
    embedder.embed_one("warm up the model")
    episodic = EpisodicMemory(
        lambda: storage.vectors, embedder, HybridSearch(lambda: storage.vectors, embedder)
    )
    started = time.perf_counter()
    for i, text in enumerate(texts):
        episodic.add(f"session-{i % 10}", "user", text)
    adds = n / (time.perf_counter() - started)
    fresh = Embedder(build_provider(EmbeddingsConfig()), cache_size=0)
    started = time.perf_counter()
    for text in texts:
        fresh.embed_one(text + " ")
    embeds = n / (time.perf_counter() - started)
    raw = [NewVector(v, "x", document_id="s") for v in clustered_vectors(n, 9)[:, :256]]
    started = time.perf_counter()
    for vector in raw:
        storage.vectors.add("raw", "raw-model", [vector])
    stores = n / (time.perf_counter() - started)
    # In batches: `add_batch` of EPISODIC_BATCH turns (one embedding call, one write), on
    # texts the embedder has not seen (its cache would hide the embedding cost).
    started = time.perf_counter()
    for at in range(0, n, EPISODIC_BATCH):
        episodic.add_batch(
            [
                NewTurn(f"session-{(at + j) % 10}", "user", text + "  ")
                for j, text in enumerate(texts[at : at + EPISODIC_BATCH])
            ]
        )
    batched_s = time.perf_counter() - started
    report = {
        "adds_per_s": adds,
        "embed_only_per_s": embeds,
        "store_only_per_s": stores,
        "batched_adds_per_s": n / batched_s,
    }
    if storage.backend == "postgres":
        # Deferred indexing: rows wait outside the HNSW index until the store's fold takes
        # them in (the writer folds itself past `hnsw_unindexed_max`). Here: how long the
        # fold needs for what is left, and the batched adds' rate with that time included.
        report["unindexed_after_batches"] = unindexed(storage, EPISODIC_DIM)
        started = time.perf_counter()
        while unindexed(storage, EPISODIC_DIM):
            time.sleep(0.02)
        report["fold_drain_s"] = time.perf_counter() - started
        report["batched_plus_fold_per_s"] = n / (batched_s + report["fold_drain_s"])
    return report


def unindexed(storage: SqlStorage, dimension: int) -> int:
    """The tenant's vectors of `dimension` not yet in the HNSW index (PostgreSQL)."""
    t = vector_table(dimension)
    waiting = select(func.count()).where(t.c.tenant_id == storage.tenant_id, not_(t.c.indexed))
    with storage.database("vectors").transaction() as conn:
        return int(conn.execute(waiting).scalar_one())


# -- graph --------------------------------------------------------------------------------------


def load_graph(storage: SqlStorage, entities: int, edges: int, seed: int) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    ids = [f"e{i}" for i in range(entities)]
    since = datetime(2020, 1, 1, tzinfo=UTC)
    adjacency: dict[str, list[str]] = {i: [] for i in ids}
    sources, targets = rng.integers(0, entities, edges), rng.integers(0, entities, edges)
    with storage.database("graph").transaction(write=True) as conn:
        conn.execute(
            insert(graph_entities),
            [
                {"tenant_id": storage.tenant_id, "entity_id": e, "version": 1, "name": e,
                 "type": "node", "properties": {}, "valid_from": since, "valid_to": None,
                 "recorded_at": since, "superseded_at": None}
                for e in ids
            ],
        )  # fmt: skip
        rows = []
        for n, (s, t) in enumerate(zip(sources, targets, strict=True)):
            adjacency[ids[s]].append(ids[t])
            rows.append(
                {"tenant_id": storage.tenant_id, "relationship_id": f"r{n}", "version": 1,
                 "from_id": ids[s], "to_id": ids[t], "type": "link", "properties": {},
                 "valid_from": since, "valid_to": None, "recorded_at": since,
                 "superseded_at": None}
            )  # fmt: skip
        for start in range(0, len(rows), 10000):
            conn.execute(insert(graph_relationships), rows[start : start + 10000])
    return adjacency


def bfs(adjacency: dict[str, list[str]], start: str, depth: int) -> int:
    """How many entities a breadth-first walk of `depth` hops from `start` reaches (the walk's
    in-memory floor and its check)."""
    if start not in adjacency:
        return 0
    seen = {start: 0}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if seen[node] == depth:
            continue
        for nxt in adjacency[node]:
            if nxt not in seen:
                seen[nxt] = seen[node] + 1
                queue.append(nxt)
    return len(seen) - 1


def bench_graph(
    storage: SqlStorage, entities: int, edges: int, runs: int, owner_url: str = ""
) -> dict[str, float]:
    adjacency = load_graph(storage, entities, edges, seed=5)
    if owner_url:
        # What autovacuum does soon after a bulk load (inserts count since PostgreSQL 13):
        # without statistics PostgreSQL plans the traversal blind (many times slower), and
        # until pages are marked all-visible an index-only scan still reads the table.
        import psycopg

        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE graph_entities")
            conn.execute("VACUUM ANALYZE graph_relationships")
    starts = [f"e{i * 7 % entities}" for i in range(runs)]
    sizes: list[int] = []
    samples = timed(
        lambda i: sizes.append(len(storage.graph.neighbors(starts[i], 4).nodes)), runs, warmup=5
    )
    baseline = timed(lambda i: bfs(adjacency, starts[i], 4), runs, warmup=5)
    expected = [bfs(adjacency, s, 4) for s in starts]
    assert sizes[-runs:] == expected, "the CTE reaches what breadth-first search reaches"
    return {
        "depth4_p50_ms": p50_ms(samples),
        "python_bfs_p50_ms": p50_ms(baseline),
        "nodes_reached_median": statistics.median(expected),
        "rows_fetched_median": statistics.median(rows_fetched(storage, starts[:20])),
    }


def rows_fetched(storage: SqlStorage, starts: list[str]) -> list[int]:
    """Rows the depth-4 traversal's query returns to the client, per start entity (the
    statement a `neighbors` call sent, run again with its parameters)."""
    db = storage.database("graph")
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("WITH RECURSIVE"):
            sent.append((statement, params))

    sizes = []
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for start in starts:
            storage.graph.neighbors(start, 4)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    for statement, params in sent:
        with db.transaction() as conn:  # the tenant set as the store sets it
            sizes.append(len(conn.exec_driver_sql(statement, params).fetchall()))
    return sizes


def run_backend(
    settings: StorageSettings,
    args: argparse.Namespace,
    report: dict[str, Any],
    name: str,
    owner_url: str = "",
) -> None:
    data = clustered_vectors(args.vectors, seed=1)
    queries = clustered_vectors(args.queries, seed=2)
    tenant = f"bench-{uuid.uuid4().hex[:6]}"
    parts = args.part or PARTS
    report[name] = {}
    with open_storage(settings, tenant) as storage:
        if "vectors" in parts:
            if name == "postgres":
                other = clustered_vectors(max(1000, args.vectors // 10), seed=3)
                built = load_vectors_postgres(
                    owner_url, [(tenant, data), (f"{tenant}-other", other)]
                )
                report[f"{name}_hnsw_build_s"] = built
            else:
                load_vectors_sql(storage, data, "bench")
            report[name]["vector_search"] = bench_vector_search(storage, data, queries, "bench")
        if "episodic" in parts:
            report[name]["episodic_add"] = bench_episodic(storage, args.episodic)
        if "graph" in parts:
            report[name]["graph"] = bench_graph(
                storage, args.entities, args.edges, args.graph_runs, owner_url
            )


def main() -> None:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        # One BLAS thread, set before numpy loads (hence the re-exec): on a small shared machine
        # a second BLAS thread's wake-ups beside the database client's threads make a 3,000-row
        # product take milliseconds. The store and the floor both run single-threaded.
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
        os.execv(sys.executable, [sys.executable, __file__, *sys.argv[1:]])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["memory", "sqlite", "postgres"], action="append")
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--episodic", type=int, default=1000)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=50_000)
    parser.add_argument("--graph-runs", type=int, default=100)
    parser.add_argument("--part", choices=PARTS, action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict[str, Any] = {"vectors": args.vectors, "dimension": DIM}
    if not args.json:
        sizes = {"vectors": f"{args.vectors} x {DIM} vectors, k={K}",
                 "episodic": f"{args.episodic} episodic adds",
                 "graph": f"{args.entities} entities / {args.edges} edges"}  # fmt: skip
        print("llmspell memory benchmark: " + ", ".join(sizes[p] for p in args.part or PARTS))
    with tempfile.TemporaryDirectory(prefix="llmspell-memory-bench-") as tmp:
        for name in args.backend or ["sqlite", "postgres"]:
            if name == "postgres":
                with postgres_logins() as logins:
                    settings = StorageSettings(
                        backend="postgres", pg_url=logins.app_url, auto_upgrade=False, pg_pool_max=4
                    )
                    run_backend(settings, args, report, name, logins.owner_url)
            else:
                settings = StorageSettings(backend=name, sqlite_path=str(Path(tmp) / "bench.db"))
                run_backend(settings, args, report, name)
            if not args.json:
                print_backend(name, report)
    if args.json:
        print(json.dumps(report, indent=2))
    elif all("episodic_add" in report.get(b, {}) for b in ("postgres", "sqlite")):
        for what in ("adds_per_s", "batched_adds_per_s"):
            pg, lite = (report[b]["episodic_add"][what] for b in ("postgres", "sqlite"))
            print(f"  episodic {what}: postgres {pg:.0f}/s vs sqlite {lite:.0f}/s "
                  f"(ratio {pg / lite:.2f})")  # fmt: skip


def print_backend(name: str, report: dict[str, Any]) -> None:
    row = report[name]
    print(f"  {name}")
    if "vector_search" in row:
        vs = row["vector_search"]
        how = "HNSW, tenant filter" if name == "postgres" else "exact numpy matrix"
        ratio = vs["p50_ms"] / vs["numpy_p50_ms"]
        print(f"    vector search ({how}): p50 {vs['p50_ms']:.2f} ms, "
              f"recall@10 {vs['recall_at_10']:.3f}  | baseline numpy exact p50 "
              f"{vs['numpy_p50_ms']:.2f} ms (ratio {ratio:.1f}x)")  # fmt: skip
    if "episodic_add" in row:
        ep = row["episodic_add"]
        print(f"    episodic add incl. embedding: {ep['adds_per_s']:.0f}/s  | embedding alone "
              f"{ep['embed_only_per_s']:.0f}/s, store alone "
              f"{ep['store_only_per_s']:.0f}/s")  # fmt: skip
        print(f"    episodic add in batches of {EPISODIC_BATCH} (embed + store): "
              f"{ep['batched_adds_per_s']:.0f}/s (goal on postgres >= 2000/s)")  # fmt: skip
        if "fold_drain_s" in ep:
            print(f"    HNSW fold: {ep['unindexed_after_batches']} rows outside the index "
                  f"after the batches, folded in {ep['fold_drain_s']:.1f} s; batches + fold "
                  f"{ep['batched_plus_fold_per_s']:.0f}/s")  # fmt: skip
    if "graph" in row:
        gr = row["graph"]
        print(f"    graph neighbors depth 4: p50 {gr['depth4_p50_ms']:.2f} ms (goal <= 10 ms), "
              f"{gr['nodes_reached_median']:.0f} nodes, {gr['rows_fetched_median']:.0f} rows "
              f"fetched per call  | baseline in-memory BFS p50 "
              f"{gr['python_bfs_p50_ms']:.2f} ms")  # fmt: skip
    if f"{name}_hnsw_build_s" in report:
        print(f"    (HNSW index build: {report[f'{name}_hnsw_build_s']:.0f} s, not timed above)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
