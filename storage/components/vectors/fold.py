"""Deferred HNSW indexing (PostgreSQL): an add writes its rows with `indexed = false`, outside
the partial HNSW index (`WHERE indexed`), so it does not pay the index's upkeep (about a
millisecond per row); search reads that tail exactly beside the HNSW scan. `HnswFold` moves
the tail into the index: a background thread of the store folds it in batches after every add,
the writer folds itself while the tail is over `hnsw_unindexed_max`. Closing the storage stops
the background fold after its batch and leaves the rest (at most the limit) to the next fold:
a search that meets rows outside the index starts one, as does the next add (a store without
the background fold folds what is left when it closes). Rows are picked `FOR UPDATE SKIP
LOCKED`, so folds of several processes share the work; they run as the app role under
row-level security, one tenant each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Update, bindparam, func, not_, select, update

from llmspell.storage.components.vectors.tables import ANALYZE_FUNCTION, vector_table
from llmspell.storage.database import Database
from llmspell.storage.tenancy import Tenant

logger = logging.getLogger("llmspell.storage")

# Rows per fold transaction: a writer deleting a row the fold holds waits at most one batch.
FOLD_BATCH = 256
NO_FLUSH_WAIT = {"synchronous_commit": "off"}
# How long a writer over the limit keeps trying rows other transactions hold.
HELD_ROWS_WAIT_S = 10.0
# A fold that folded at least this many rows of the table since the last ANALYZE has the
# table analyzed (`ANALYZE_FUNCTION`) when it empties the tail, or, during a long fold, when
# it has folded since the last ANALYZE as many rows as before it: the planner's statistics
# would otherwise still count those rows as outside the index.
ANALYZE_AFTER_ROWS = 1_000


class HnswFold:
    """Folds one tenant's un-indexed vectors into the HNSW index of their table.

    `limit`: how many rows of one table may wait outside the index after an add returns (the
    tail is searched exactly, so it must stay small); `background`: whether a thread folds
    the tail after every add.
    """

    def __init__(self, db: Database, tenant: Tenant, limit: int, background: bool = True) -> None:
        self._db = db
        self._tenant = tenant
        self._limit = limit
        self._background = background
        self._lock = threading.Lock()
        # table (dimension) -> rows believed to wait: the last count plus this process's adds
        self._tails: dict[int, int] = {}
        self._adds = 0  # one more per add: a count taken meanwhile may have missed its rows
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._cancel_close: Callable[[], None] | None = None
        self._built: dict[int, tuple[Update, Any]] = {}
        # table (dimension) -> rows this process folded since it last analyzed the table, and
        # before that
        self._folded: dict[int, int] = {}
        self._analyzed: dict[int, int] = {}

    def added(self, dimension: int, rows: int) -> None:
        """`rows` un-indexed rows were committed to the table of `dimension`: start the
        background fold, and fold here down to the limit when the tail is over it."""
        with self._lock:
            self._adds += 1
            tail = self._tails[dimension] = self._tails.get(dimension, 0) + rows
            self._start_locked()
        if tail > self._limit:
            self.fold(dimension, self._limit)

    def met_tail(self, dimension: int) -> None:
        """A search met rows of `dimension` outside the index (a runtime closed before its
        fold was done, or another one's fold is still busy): fold them in the background."""
        with self._lock:
            if not self._background or self._thread is not None or self._stopping:
                return
            self._tails[dimension] = max(self._tails.get(dimension, 0), 1)  # the fold counts
            self._start_locked()

    def _start_locked(self) -> None:
        """Stop with the storage, and start the background fold unless it runs (the caller
        holds the lock)."""
        if self._cancel_close is None:
            self._cancel_close = self._db.source.before_close(self.close)
        if self._background and self._thread is None and not self._stopping:
            self._thread = threading.Thread(
                target=self._run, name=f"llmspell-hnsw-fold-{self._tenant.id}", daemon=True
            )
            self._thread.start()

    def fold(self, dimension: int, down_to: int) -> int:
        """Fold the tail of `dimension` until at most `down_to` rows wait; returns the rows
        left. Rows other transactions hold (another fold's batch, a writer deleting them) are
        skipped, never waited for (no deadlock with a writer), and tried again shortly, for at
        most `HELD_ROWS_WAIT_S`. A failure is logged, not raised (the rows are stored and
        search finds them either way); it returns -1."""
        with self._lock:
            adds = self._adds
        try:
            _, left = self._fold_some(dimension, 0)
            give_up = time.monotonic() + HELD_ROWS_WAIT_S
            while left > down_to:
                folded, left = self._fold_some(dimension, min(FOLD_BATCH, left - down_to))
                if folded == 0:
                    if time.monotonic() > give_up:
                        break
                    time.sleep(0.02)  # the rest is held: let its holders commit
        except Exception as exc:
            logger.warning("folding vectors_%d into its HNSW index failed: %s", dimension, exc)
            return -1
        self._counted(dimension, left, adds)
        self._analyze_if_due(dimension, left)
        return left

    def close(self) -> None:
        """Stop the background fold after its batch (run while the storage still connects:
        `EngineSource.before_close`). What is left, at most the limit, waits for the next
        fold, searched exactly meanwhile: closing right after a large ingest need not index
        its last rows first. Without the background fold, fold every tail here."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._lock:
            dimensions = [] if self._background else sorted(self._tails)
        for dimension in dimensions:
            self.fold(dimension, 0)
        with self._lock:
            cancel, self._cancel_close = self._cancel_close, None
            self._thread = None
            self._stopping = False
        if cancel is not None:
            cancel()

    def _run(self) -> None:
        """The background fold: a batch at a time while a tail is left; then the thread ends
        (the next add starts another) and, with nothing left to fold, closing has nothing to
        do either."""
        while True:
            with self._lock:
                if self._stopping:
                    return
                if not any(self._tails.values()):
                    self._thread = None
                    cancel, self._cancel_close = self._cancel_close, None
                    if cancel is not None:
                        cancel()
                    return
                dimension = next(d for d, rows in self._tails.items() if rows)
                adds = self._adds
            try:
                folded, left = self._fold_some(dimension, FOLD_BATCH)
            except Exception as exc:
                logger.warning("folding vectors_%d into its HNSW index failed: %s", dimension, exc)
                with self._lock:
                    self._thread = None  # the next add starts another
                return
            # Nothing this fold may take: folds of other processes hold the rest.
            self._counted(dimension, 0 if folded == 0 else left, adds)
            self._analyze_if_due(dimension, left)

    def _counted(self, dimension: int, left: int, adds: int) -> None:
        """The tail of `dimension` was counted after add number `adds`: the estimate becomes
        the count, unless adds came since (their rows may be missing from it; the estimate,
        which includes them, stays until the next count)."""
        with self._lock:
            if self._adds == adds:
                self._tails[dimension] = left
            if left and self._cancel_close is None:  # closing stops the fold
                self._cancel_close = self._db.source.before_close(self.close)

    def _analyze_if_due(self, dimension: int, left: int) -> None:
        """A fold of `dimension` left `left` rows waiting: analyze the table when this process
        folded `ANALYZE_AFTER_ROWS` or more of its rows since it last did, and either the tail
        is empty or those rows are at least as many as it folded before. A large ingest keeps
        the tail at its limit until it ends: the statistics follow its rows into the index on
        the way (otherwise a search meanwhile sorts the namespace instead of asking the index),
        with ANALYZEs at 1K, 2K, 4K, ... rows folded, a number that grows with the log of the
        rows. A failure is logged (the planner then waits for autovacuum), never raised."""
        with self._lock:
            folded = self._folded.get(dimension, 0)
            before = self._analyzed.get(dimension, 0)
            if folded < ANALYZE_AFTER_ROWS or (left and folded < before):
                return
            self._folded[dimension] = 0
            self._analyzed[dimension] = before + folded
        try:
            with self._db.transaction() as conn:
                conn.execute(select(getattr(func, ANALYZE_FUNCTION)(dimension)))
        except Exception as exc:
            logger.warning("analyzing vectors_%d after a fold failed: %s", dimension, exc)

    def _fold_some(self, dimension: int, rows: int) -> tuple[int, int]:
        """Mark up to `rows` rows of the tail indexed, in one transaction (0: only count);
        returns (rows folded, rows left)."""
        fold, count = self._statements(dimension)
        # A fold lost in a crash only leaves its rows outside the index, still found by the
        # exact search of the tail and folded again: its commit need not wait for the WAL flush.
        with self._db.transaction(write=True, settings=NO_FLUSH_WAIT) as conn:
            folded = int(conn.execute(fold, {"batch": rows}).rowcount) if rows else 0
            left = int(conn.execute(count).scalar_one())
        if folded:
            with self._lock:
                self._folded[dimension] = self._folded.get(dimension, 0) + folded
        return folded, left

    def _statements(self, dimension: int) -> tuple[Update, Any]:
        built = self._built.get(dimension)
        if built is None:
            t = vector_table(dimension)
            tail = t.alias("tail")
            # The rows are picked in a CTE, which PostgreSQL runs once: as an `IN (subquery)`
            # the planner may run the subquery again for every row it updates, and each run
            # skips the rows the statement already changed and locks the next ones, so one
            # statement folded the whole tail instead of a batch.
            pick = (
                select(tail.c.tenant_id, tail.c.id)
                .where(self._tenant.where(tail), not_(tail.c.indexed))
                .limit(bindparam("batch"))
                .with_for_update(skip_locked=True)
                .cte("picked")
            )
            fold = (
                update(t)
                .where(t.c.tenant_id == pick.c.tenant_id, t.c.id == pick.c.id)
                .values(indexed=True)
            )
            count = select(func.count()).where(self._tenant.where(t), not_(t.c.indexed))
            built = self._built[dimension] = (fold, count)
        return built
