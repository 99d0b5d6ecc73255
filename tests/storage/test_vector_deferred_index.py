"""Deferred HNSW indexing: on PostgreSQL an add leaves its rows outside the HNSW index and a
fold moves them in; search finds them exactly as well before the fold as after it, on every
backend. The tail stays within `hnsw_unindexed_max`; closing the storage leaves the rest to the
next fold (a search that meets it starts one), or folds it when the background fold is off."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import psycopg
import pytest
from pg_databases import fresh_pg_database

from llmspell.storage import SqlStorage, StorageSettings, admin, open_storage
from llmspell.storage.components.vectors import NewVector, VectorSettings
from llmspell.storage.components.vectors import fold as fold_module
from llmspell.storage.components.vectors.fold import HnswFold
from llmspell.storage.components.vectors.tables import (
    ANALYZE_FUNCTION,
    hnsw_index_name,
    unindexed_index_name,
)
from llmspell.storage.postgres.embedded import PgLogins
from llmspell.storage.postgres.urls import with_login
from llmspell.storage.tenancy import Tenant

DIM = 128
HNSW, TAIL = hnsw_index_name(DIM), unindexed_index_name(DIM)


def unit_rows(seed: int, n: int) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    normed: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normed


def exact_top(matrix: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-(matrix @ query), kind="stable")[:k]]


def rows_of(settings: StorageSettings, tenant: str, indexed: bool) -> int:
    """Rows of `tenant` in (or outside) the HNSW index, counted on a connection of its own
    as the app role."""
    with psycopg.connect(settings.pg_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (tenant,))
        row = conn.execute(
            f"SELECT count(*) FROM vectors_{DIM} WHERE indexed = %s", (indexed,)
        ).fetchone()
    return int(row[0]) if row else -1


def tail_size(settings: StorageSettings, tenant: str) -> int:
    return rows_of(settings, tenant, indexed=False)


@pytest.fixture
def open_pg(
    pg_settings: StorageSettings, unique_tenant: str
) -> Iterator[Callable[..., SqlStorage]]:
    """`open(limit, suffix, background)`: storage on the session PostgreSQL (app role) whose
    vectors keep at most `limit` rows outside the HNSW index, folded by a background thread
    unless `background` is False; closed afterwards."""
    opened: list[SqlStorage] = []

    def open_(limit: int, suffix: str = "", background: bool = True) -> SqlStorage:
        vector_settings = VectorSettings(
            hnsw_unindexed_max=limit, hnsw_fold_in_background=background
        )
        settings = pg_settings.with_component("vectors", vector_settings)
        storage = open_storage(settings, unique_tenant + suffix)
        opened.append(storage)
        return storage

    yield open_
    for storage in opened:
        storage.close()


def test_a_search_right_after_each_add_finds_every_added_row(storage: SqlStorage) -> None:
    data = unit_rows(1, 400)
    for start in range(0, len(data), 50):
        batch = data[start : start + 50]
        storage.vectors.add(
            "ns", "m", [NewVector(v, "", id=f"v{start + i}") for i, v in enumerate(batch)]
        )
        for i, vector in enumerate(batch[:5]):
            [hit] = storage.vectors.search("ns", "m", vector, 1)
            assert hit.record.id == f"v{start + i}"
            assert hit.score == pytest.approx(1.0, abs=1e-4)
    found = 0
    for query in unit_rows(2, 20):
        hits = storage.vectors.search("ns", "m", query, 10)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        expected = {f"v{i}" for i in exact_top(data, query, 10)}
        found += len(expected & {h.record.id for h in hits})
    assert found / 200 >= 0.95, "recall@10 against exact search"


@pytest.mark.postgres
def test_rows_land_outside_the_index_and_closing_the_storage_folds_them_in(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    storage = open_pg(1_000_000, background=False)
    data = unit_rows(3, 300)
    storage.vectors.add("ns", "m", [NewVector(v, "") for v in data])
    assert tail_size(pg_settings, storage.tenant_id) == 300
    storage.close()
    assert tail_size(pg_settings, storage.tenant_id) == 0
    assert rows_of(pg_settings, storage.tenant_id, indexed=True) == 300


@pytest.mark.postgres
def test_closing_leaves_the_tail_to_the_next_runtime_whose_search_folds_it(
    open_pg: Callable[..., SqlStorage],
    pg_settings: StorageSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One row per fold transaction, and a pause after each: folding the 3,000 rows takes the
    # background fold over a minute, far longer than the add takes to return and the storage
    # to close, however busy the machine is.
    monkeypatch.setattr(fold_module, "FOLD_BATCH", 1)
    real_fold_some = HnswFold._fold_some

    def slow_fold_some(fold: HnswFold, dimension: int, rows: int) -> tuple[int, int]:
        done = real_fold_some(fold, dimension, rows)
        time.sleep(0.02)
        return done

    monkeypatch.setattr(HnswFold, "_fold_some", slow_fold_some)
    first = open_pg(1_000_000)
    data = unit_rows(15, 3_000)
    first.vectors.add("ns", "m", [NewVector(v, "", id=f"v{i}") for i, v in enumerate(data)])
    first.close()  # the background fold stops after its batch
    fold_thread = f"llmspell-hnsw-fold-{first.tenant_id}"
    assert fold_thread not in {t.name for t in threading.enumerate()}, "the fold outlived close"
    assert tail_size(pg_settings, first.tenant_id) > 0, "closing did not wait for the fold"
    monkeypatch.undo()
    second = open_pg(1_000_000)  # the same tenant, adding nothing
    [hit] = second.vectors.search("ns", "m", data[2_999], 1)
    assert hit.record.id == "v2999"  # found outside the index, and that starts a fold
    deadline = time.monotonic() + 120  # generous: the machine is shared
    while tail_size(pg_settings, first.tenant_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tail_size(pg_settings, first.tenant_id) == 0
    assert rows_of(pg_settings, first.tenant_id, indexed=True) == 3_000


@pytest.mark.postgres
def test_a_fold_batch_marks_at_most_its_size_whatever_plan_postgres_picks(
    open_pg: Callable[..., SqlStorage],
    pg_settings: StorageSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Picked by `IN (subquery)`, a plan that runs the subquery again for each row updated
    (which statistics of a busy table led to) locked and folded the whole tail in one batch."""
    rescanning = {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_hashagg": "off"}
    monkeypatch.setattr(fold_module, "NO_FLUSH_WAIT", {**fold_module.NO_FLUSH_WAIT, **rescanning})
    storage = open_pg(1_000_000, background=False)
    storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(6, 200)])
    fold = HnswFold(storage.database("vectors"), Tenant(storage.tenant_id), 1_000_000, False)
    assert fold._fold_some(DIM, 7) == (7, 193)
    assert tail_size(pg_settings, storage.tenant_id) == 193


@pytest.mark.postgres
def test_index_now_puts_every_waiting_row_into_the_index_before_it_returns(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    storage = open_pg(1_000_000, background=False)
    data = unit_rows(4, 300)
    storage.vectors.add("ns", "m", [NewVector(v, "", id=f"v{i}") for i, v in enumerate(data)])
    storage.vectors.add("other", "m", [NewVector(v, "") for v in unit_rows(5, 20)])
    assert tail_size(pg_settings, storage.tenant_id) == 320
    assert storage.vectors.index_now() == 0
    assert tail_size(pg_settings, storage.tenant_id) == 0
    assert rows_of(pg_settings, storage.tenant_id, indexed=True) == 320
    [hit] = storage.vectors.search("ns", "m", data[7], 1)
    assert hit.record.id == "v7"


def test_index_now_has_nothing_to_do_where_search_is_exact(storage: SqlStorage) -> None:
    storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(6, 50)])
    if storage.settings.backend == "postgres":
        storage.vectors.index_now()
    assert storage.vectors.index_now() == 0
    assert storage.vectors.count("ns") == 50


@pytest.mark.postgres
def test_the_background_fold_empties_the_tail_while_the_storage_stays_open(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    storage = open_pg(1_000_000)
    storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(8, 600)])
    deadline = time.monotonic() + 120  # generous: the machine is shared
    while tail_size(pg_settings, storage.tenant_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tail_size(pg_settings, storage.tenant_id) == 0
    # with nothing left to fold the thread ends (the next add starts another)
    name = f"llmspell-hnsw-fold-{storage.tenant_id}"
    while any(t.name == name for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == name for t in threading.enumerate())
    storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(9, 10)])
    while tail_size(pg_settings, storage.tenant_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tail_size(pg_settings, storage.tenant_id) == 0


@pytest.mark.postgres
def test_search_merges_the_index_and_the_tail_into_the_exact_top_k(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    folded = open_pg(0, background=False)  # each add folds before it returns: all indexed
    data = unit_rows(4, 600)
    folded.vectors.add("ns", "m", [NewVector(v, "", id=f"v{i}") for i, v in enumerate(data[:300])])
    assert tail_size(pg_settings, folded.tenant_id) == 0
    tail = open_pg(1_000_000, background=False)  # the same tenant: these rows stay outside
    tail_ids = {f"v{i}" for i in range(300, 600)}
    tail.vectors.add("ns", "m", [NewVector(data[i], "", id=f"v{i}") for i in range(300, 600)])
    assert tail_size(pg_settings, folded.tenant_id) == 300
    found = 0
    for query in unit_rows(5, 20):
        expected = [f"v{i}" for i in exact_top(data, query, 10)]
        got = [h.record.id for h in tail.vectors.search("ns", "m", query, 10)]
        assert len(got) == 10
        # the tail is searched exactly: none of its rows in the true top 10 is missed
        assert {vid for vid in expected if vid in tail_ids} <= set(got)
        found += len(set(got) & set(expected))
    assert found / 200 >= 0.95, "recall@10 against exact search"


@pytest.mark.postgres
def test_an_add_folds_the_tail_itself_while_it_is_over_the_limit(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    storage = open_pg(40)
    data = unit_rows(6, 300)
    for start in range(0, 300, 30):
        storage.vectors.add("ns", "m", [NewVector(v, "") for v in data[start : start + 30]])
        assert tail_size(pg_settings, storage.tenant_id) <= 40
    assert storage.vectors.count("ns") == 300


@pytest.mark.postgres
def test_the_fold_of_one_tenant_never_marks_another_tenants_rows_under_row_level_security(
    open_pg: Callable[..., SqlStorage], pg_settings: StorageSettings
) -> None:
    a = open_pg(1_000_000, "-a", background=False)
    b = open_pg(1_000_000, "-b", background=False)
    db_a = a.database("vectors")
    data = unit_rows(7, 50)
    a.vectors.add("ns", "m", [NewVector(v, "") for v in data])
    assert tail_size(pg_settings, a.tenant_id) == 50
    # A fold whose statements name tenant A, run in transactions of tenant B (the app role's
    # setting decides what it sees): nothing of A is folded, and nothing of A is counted.
    forged = HnswFold(db_a.for_tenant(b.tenant_id), Tenant(a.tenant_id), limit=0)
    assert forged.fold(DIM, 0) == 0
    assert tail_size(pg_settings, a.tenant_id) == 50
    # B's own fold folds B's rows only.
    b.vectors.add("ns", "m", [NewVector(v, "") for v in data[:10]])
    b.close()
    assert tail_size(pg_settings, b.tenant_id) == 0
    assert tail_size(pg_settings, a.tenant_id) == 50
    assert HnswFold(db_a, Tenant(a.tenant_id), limit=0).fold(DIM, 0) == 0
    assert tail_size(pg_settings, a.tenant_id) == 0


@pytest.mark.parametrize("bad", [-1, 1_000_001, True, 2.5, "10"])
def test_hnsw_unindexed_max_outside_0_to_a_million_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"hnsw_unindexed_max must be 0-1000000, got"):
        VectorSettings(hnsw_unindexed_max=bad)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_two_runtimes_of_one_tenant_adding_at_once_share_the_fold_and_index_every_row(
    open_pg: Callable[..., SqlStorage],
    pg_settings: StorageSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = open_pg(100), open_pg(100)  # the same tenant, separate pools and folds
    data = unit_rows(10, 800)
    errors: list[BaseException] = []

    def write(storage: SqlStorage, rows: np.ndarray, prefix: str) -> None:
        try:
            for start in range(0, len(rows), 40):
                batch = rows[start : start + 40]
                storage.vectors.add(
                    "ns",
                    "m",
                    [NewVector(v, "", id=f"{prefix}{start + i}") for i, v in enumerate(batch)],
                )
        except BaseException as exc:  # the test thread reports it
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(first, data[:400], "a")),
        threading.Thread(target=write, args=(second, data[400:], "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for i in (0, 399, 400, 799):
        [hit] = first.vectors.search("ns", "m", data[i], 1)
        assert hit.record.id == (f"a{i}" if i < 400 else f"b{i - 400}")
    assert first.vectors.index_now() == 0  # rows the other's fold holds are waited for
    first.close()
    second.close()
    assert tail_size(pg_settings, first.tenant_id) == 0
    assert rows_of(pg_settings, first.tenant_id, indexed=True) == 800
    assert "failed" not in caplog.text


@pytest.fixture
def fresh_db(pg_urls: PgLogins) -> Iterator[StorageSettings]:
    """An empty database with the vector extension, owned by the owner role; dropped after."""
    with fresh_pg_database(pg_urls, "llmspell_fold") as name:
        yield StorageSettings(
            backend="postgres",
            pg_url=with_login(pg_urls.app_url, dbname=name),
            pg_admin_url=with_login(pg_urls.owner_url, dbname=name),
            auto_upgrade=False,
        )


def vectors_128_schema(settings: StorageSettings) -> tuple[dict[str, str], bool, tuple[bool, bool]]:
    """The indexes of vectors_128 (name -> definition), whether it has `indexed`, and its
    row-level security (enabled, forced), as the owner sees them."""
    with psycopg.connect(settings.admin_url) as conn:
        indexes: dict[str, str] = {
            str(name): str(definition)
            for name, definition in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vectors_128'"
            )
        }
        column = conn.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'vectors_128' AND column_name = 'indexed'"
        ).fetchone()
        rls = conn.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'vectors_128'"
        ).fetchone()
    assert rls is not None
    return indexes, column == (1,), (bool(rls[0]), bool(rls[1]))


@pytest.mark.postgres
def test_0014_makes_the_hnsw_index_partial_and_its_downgrade_indexes_the_tail_again(
    fresh_db: StorageSettings,
) -> None:
    admin.upgrade(fresh_db)
    settings = fresh_db.with_component(
        "vectors", VectorSettings(hnsw_unindexed_max=1_000_000, hnsw_fold_in_background=False)
    )
    data = unit_rows(11, 40)
    with open_storage(settings, "mig") as storage:
        for prefix in "vw":
            storage.vectors.add(
                "ns", "m", [NewVector(v, "", id=f"{prefix}{i}") for i, v in enumerate(data)]
            )
        assert tail_size(settings, "mig") == 80
    assert tail_size(settings, "mig") == 0, "closing folded them"
    # half of them back outside the index, as a process that died before its fold leaves them
    with psycopg.connect(settings.pg_url) as conn:
        conn.execute("SELECT set_config('app.tenant_id', 'mig', true)")
        conn.execute("UPDATE vectors_128 SET indexed = false WHERE id LIKE 'w%'")
    assert tail_size(settings, "mig") == 40
    at_head = vectors_128_schema(settings)
    indexes, has_column, rls = at_head
    assert "hnsw" in indexes[HNSW] and "WHERE indexed" in indexes[HNSW]
    assert "WHERE (NOT indexed)" in indexes[TAIL]
    assert has_column and rls == (True, True)

    admin.downgrade(settings, "0013")
    indexes, has_column, rls = vectors_128_schema(settings)
    assert "hnsw" in indexes[HNSW] and "WHERE" not in indexes[HNSW], "the full index takes all"
    assert TAIL not in indexes
    assert not has_column and rls == (True, True)

    admin.upgrade(settings)
    assert vectors_128_schema(settings) == at_head
    assert tail_size(settings, "mig") == 0, "rows the downgrade indexed come back indexed"
    with open_storage(settings, "mig") as storage:
        assert storage.vectors.count("ns") == 80
        [hit] = storage.vectors.search("ns", "m", data[7], 1)
        assert hit.record.id in {"v7", "w7"}


def indexed_statistics(settings: StorageSettings, pg_urls: PgLogins) -> str | None:
    """The planner's most common values of vectors_128.indexed (read as the superuser: the
    statistics of a table under row-level security are hidden from the other roles)."""
    dbname = psycopg.conninfo.conninfo_to_dict(settings.pg_url)["dbname"]
    with psycopg.connect(with_login(pg_urls.superuser_url, dbname=str(dbname))) as conn:
        row = conn.execute(
            "SELECT most_common_vals::text FROM pg_stats "
            "WHERE tablename = 'vectors_128' AND attname = 'indexed'"
        ).fetchone()
    return None if row is None else str(row[0])


def test_a_fold_that_empties_a_large_tail_has_the_table_analyzed(
    fresh_db: StorageSettings, pg_urls: PgLogins
) -> None:
    admin.upgrade(fresh_db)
    settings = fresh_db.with_component(
        "vectors", VectorSettings(hnsw_unindexed_max=1_000_000, hnsw_fold_in_background=False)
    )
    with open_storage(settings, "stats") as storage:
        storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(12, 300)])
        assert storage.vectors.index_now() == 0
        # 300 rows folded: under ANALYZE_AFTER_ROWS, the statistics are autovacuum's to take
        assert indexed_statistics(settings, pg_urls) is None
        storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(13, 900)])
        with psycopg.connect(settings.pg_url) as conn:  # as autovacuum saw it mid-ingest
            conn.execute(f"SELECT {ANALYZE_FUNCTION}({DIM})")
        assert indexed_statistics(settings, pg_urls) == "{f,t}"  # mostly outside
        assert storage.vectors.index_now() == 0
    assert indexed_statistics(settings, pg_urls) == "{t}", "the planner sees the rows indexed"


def test_a_long_fold_has_the_table_analyzed_before_its_tail_empties(
    fresh_db: StorageSettings, pg_urls: PgLogins
) -> None:
    """A large ingest keeps the tail at its limit until it ends: the statistics must follow
    the folded rows into the index on the way, not only when the tail empties."""
    admin.upgrade(fresh_db)
    settings = fresh_db.with_component(
        "vectors", VectorSettings(hnsw_unindexed_max=1_000, hnsw_fold_in_background=False)
    )
    with open_storage(settings, "stats") as storage:
        storage.vectors.add("ns", "m", [NewVector(v, "") for v in unit_rows(14, 3_000)])
        assert tail_size(settings, "stats") == 1_000  # the add folded down to the limit
        assert indexed_statistics(settings, pg_urls) == "{t,f}", "2,000 in, 1,000 out"
