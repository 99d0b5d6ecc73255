"""RAG benchmark (a script, not a test): ingest throughput and search latency at 10K and 100K
chunks per backend, with baselines measured in the same run.

    python benchmarks/rag_bench.py [--backend memory|sqlite|postgres ...] [--sizes 10000,100000]
                                   [--queries Q]

Per backend and size (one collection of that many chunks, ~90 tokens each, from a Zipf-like
vocabulary so that some words are common and some rare):
- ingest: `RagManager.ingest` in batches of 500 documents (one chunk each), chunks per second
  including chunking, embedding (wordllama) and the database's keyword index; baseline: the
  embedder alone on the same texts (what ingest cannot go below). PostgreSQL defers the HNSW
  index's upkeep (`hnsw_unindexed_max` rows may wait outside it): also printed are the rows
  still waiting when ingest returned, the time the store's fold took to index them, ingest +
  fold together, and a vector search while they waited; the searches below run after it.
- search p50 over Q questions: hybrid (RRF), vector only, and the keyword index alone; baseline:
  a bare numpy matrix product + top-k over the same embeddings (the exact-search floor).
- interleaved: one document ingested then one hybrid search, p50 of the pair (the store's
  keyword index follows its own writes); baseline: what an immutable BM25 index (bm25s) of the
  collection costs to rebuild after a write.
- the keyword index (`NamespaceKeywords`) of the collection built from scratch, what the first
  keyword search of a runtime (or the first after another runtime wrote) pays: time and the
  size of its arrays.
PostgreSQL is the embedded server in a temp dir (or LLMSPELL_BENCH_PG_URL).
"""

from __future__ import annotations

import argparse
import os

# One BLAS thread: the floor is a single-query matrix product, as the store's own search is
# (more threads only add hand-off cost on a shared 2-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import func, not_, select, text

sys.path.insert(0, str(Path(__file__).parent))
from storage_bench import postgres_logins

from llmspell.runtime.config import load_config
from llmspell.runtime.infrastructure import Infrastructure
from llmspell.runtime.rag import Document, RagManager
from llmspell.runtime.retrieval.keyword import KeywordIndex, query_terms
from llmspell.storage import SqlStorage, StorageSettings, open_storage
from llmspell.storage.components.vectors import vector_table
from llmspell.storage.keyword_index import NamespaceKeywords

WORDS_PER_CHUNK = 70
BATCH_DOCUMENTS = 500
TOPICS = [
    "ferry", "harbour", "ticket", "invoice", "database", "security", "engine", "timetable",
    "passenger", "storm", "budget", "turnstile", "contract", "maintenance", "payment", "route",
]  # fmt: skip


def vocabulary(size: int = 20_000) -> tuple[list[str], np.ndarray]:
    rng = random.Random(7)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "se", "di", "ba", "po", "gu"]
    words = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(size)})
    words = TOPICS + words
    weights = 1.0 / np.arange(1, len(words) + 1)  # Zipf: a few words common, most rare
    return words, weights / weights.sum()


def documents(n: int, seed: int) -> list[Document]:
    words, weights = vocabulary()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(words), size=(n, WORDS_PER_CHUNK), p=weights)
    docs = []
    for i, row in enumerate(picks):
        sentence = " ".join(words[j] for j in row)
        docs.append(Document(f"Record {seed}-{i}: {sentence}.", f"doc-{seed}-{i}"))
    return docs


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@contextmanager
def storage_settings(backend: str, stack: ExitStack) -> Iterator[StorageSettings]:
    if backend == "memory":
        yield StorageSettings(backend="memory")
    elif backend == "sqlite":
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        yield StorageSettings(backend="sqlite", sqlite_path=str(directory / "bench.db"))
    else:
        logins = stack.enter_context(postgres_logins())
        yield StorageSettings(
            backend="postgres",
            pg_url=logins.app_url,
            pg_admin_url=logins.owner_url,
            auto_upgrade=False,
        )


def unindexed(storage: SqlStorage) -> int:
    """The collection's vectors not yet in the HNSW index (PostgreSQL)."""
    info = storage.vectors.namespace("global")
    t = vector_table(info.dimension if info else 256)
    waiting = select(func.count()).where(t.c.tenant_id == storage.tenant_id, not_(t.c.indexed))
    with storage.database("vectors").transaction() as conn:
        return int(conn.execute(waiting).scalar_one())


SERVER_SETTINGS = ("shared_buffers", "maintenance_work_mem", "max_wal_size", "wal_compression")


def server_settings(storage: SqlStorage) -> str:
    """The PostgreSQL settings that bear on the HNSW fold (buffers, WAL), as the run used them."""
    with storage.database("vectors").transaction() as conn:
        return ", ".join(
            f"{name} {conn.execute(text(f'SHOW {name}')).scalar_one()}" for name in SERVER_SETTINGS
        )


def timed_ms(call: Callable[[], object]) -> float:
    begin = time.perf_counter()
    call()
    return (time.perf_counter() - begin) * 1000


def bench(backend: str, size: int, queries: int) -> float:
    """Print one backend's numbers at `size`; return its ingest rate (chunks per second)."""
    with ExitStack() as stack, storage_settings(backend, stack) as settings:
        config = load_config(profile="memory", env={}).config
        config.rag.chunk_size = 256
        config.embeddings.cache_size = 0
        tenant = f"bench-{size}"
        config.tenancy.tenant_id = tenant
        infra = Infrastructure(config, storage=open_storage(settings, tenant))
        stack.callback(infra.close)
        rag = infra.get(RagManager)
        docs = documents(size, seed=size)
        texts = [d.content for d in docs]
        if backend == "postgres":
            print(f"{'':<17}  server: {server_settings(infra.storage)}")

        start = time.perf_counter()
        embeddings = rag.embedder.embed(texts)
        embed_s = time.perf_counter() - start
        start = time.perf_counter()
        chunks = 0
        for i in range(0, size, BATCH_DOCUMENTS):
            chunks += rag.ingest(docs[i : i + BATCH_DOCUMENTS]).chunks_created
        ingest_s = time.perf_counter() - start
        print(
            f"{backend:<9}{size:>8}  ingest {chunks / ingest_s:>8.0f} chunks/s  "
            f"(embedder alone {size / embed_s:>8.0f} texts/s; ratio {embed_s / ingest_s:.2f})"
        )
        if backend == "postgres":
            # Deferred indexing: the last rows wait outside the HNSW index until the store's
            # background fold takes them in; the searches below run after that.
            waiting = unindexed(infra.storage)
            tail_probe = [
                timed_ms(lambda q=q: rag.search(q, k=10, hybrid=False))
                for q in ("ferry harbour ticket", "invoice budget payment", "storm route")
            ]
            start = time.perf_counter()
            while unindexed(infra.storage):
                time.sleep(0.02)
            drain_s = time.perf_counter() - start
            overall = chunks / (ingest_s + drain_s)
            print(
                f"{'':<17}  HNSW fold: {waiting} rows still outside the index when ingest "
                f"returned, folded in {drain_s:.1f} s; ingest + fold {overall:.0f} chunks/s; "
                f"vector search with that tail {statistics.median(tail_probe):.1f} ms"
            )

        words, weights = vocabulary()
        rng = np.random.default_rng(1)
        questions = [
            " ".join(words[j] for j in rng.choice(len(words), size=4, p=weights))
            for _ in range(queries)
        ]
        timings: dict[str, list[float]] = {"hybrid": [], "vector": [], "keyword": [], "numpy": []}
        store = infra.storage.vectors
        matrix = np.asarray(embeddings, dtype=np.float32)
        query_vectors = rag.embedder.embed(questions)
        for question, vector in zip(questions, query_vectors, strict=True):
            for mode, call in (
                ("hybrid", lambda q=question: rag.search(q, k=10)),
                ("vector", lambda q=question: rag.search(q, k=10, hybrid=False)),
                ("keyword", lambda q=question: store.keyword_search("global", query_terms(q), 50)),
                ("numpy", lambda v=vector: np.argpartition(-(matrix @ v), 10)[:10]),
            ):
                call()  # warm (matrix caches, statement caches)
                begin = time.perf_counter()
                call()
                timings[mode].append(time.perf_counter() - begin)
        print(
            f"{'':<17}  search p50: hybrid {p50_ms(timings['hybrid']):7.2f} ms (goal at 100K: "
            f"<= 25 ms), vector only {p50_ms(timings['vector']):7.2f} ms, keyword index alone "
            f"{p50_ms(timings['keyword']):7.2f} ms; numpy exact floor "
            f"{p50_ms(timings['numpy']):6.2f} ms"
        )

        extra = documents(20, seed=size + 1)
        pairs = []
        for i, doc in enumerate(extra):
            begin = time.perf_counter()
            rag.ingest([doc])
            rag.search(questions[i % len(questions)], k=10)
            pairs.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        KeywordIndex(texts)
        rebuild = time.perf_counter() - begin
        print(
            f"{'':<17}  ingest 1 + search, p50 {p50_ms(pairs):7.1f} ms; an in-process bm25s "
            f"index rebuild at this size: {rebuild * 1000:8.0f} ms"
        )
        begin = time.perf_counter()
        index = NamespaceKeywords("bench")
        undated = {"document_id": None, "metadata": {}, "event_time": None, "expires_at": None}
        index.add_rows({"id": d.id, "content": d.content, **undated} for d in docs)
        built = time.perf_counter() - begin
        print(
            f"{'':<17}  keyword index built from scratch: {built * 1000:8.0f} ms, "
            f"{index.nbytes / 1e6:.0f} MB of arrays"
        )
        sys.stdout.flush()
        return chunks / ingest_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--backend", action="append", choices=["memory", "sqlite", "postgres"], default=None
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    backends = args.backend or ["memory", "sqlite", "postgres"]
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"RAG benchmark: {WORDS_PER_CHUNK}-word chunks, {args.queries} questions per size")
    ingest: dict[tuple[str, int], float] = {}
    for backend in backends:
        for size in sizes:
            ingest[backend, size] = bench(backend, size, args.queries)
    for size in sizes:
        if ("postgres", size) in ingest and ("sqlite", size) in ingest:
            pg, lite = ingest["postgres", size], ingest["sqlite", size]
            print(
                f"ingest at {size}: postgres {pg:.0f} chunks/s vs sqlite {lite:.0f} chunks/s, "
                f"sqlite/postgres {lite / pg:.2f}x (goal <= 2x)"
            )


if __name__ == "__main__":
    main()
