"""Cell history of every kernel session in one SQLite file, for `history_request` (tail, range,
search), kept across kernel restarts with numeric session ids as IPython numbers them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger("llmspell.kernel.history")

# One entry of a history_reply: (session, line, source) or (session, line, (source, output)).
HistoryEntry = tuple[int, int, Any]

DEFAULT_TAIL = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    ended TEXT,
    engine TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    session INTEGER NOT NULL REFERENCES sessions(session),
    line INTEGER NOT NULL,
    source TEXT NOT NULL,
    output TEXT,
    PRIMARY KEY (session, line)
);
"""


class KernelHistory:
    """The history of this kernel session plus all earlier ones stored in the same file.

    The file is opened and this session numbered on first use, so starting a kernel costs
    nothing; several kernels may share the file (WAL, busy timeout).
    """

    def __init__(self, path: Path, engine: str) -> None:
        self.path = path
        self.engine = engine
        self._conn: sqlite3.Connection | None = None
        self._session: int | None = None
        # do_shutdown arrives on the control thread while cells run on the main thread.
        self._lock = threading.Lock()

    @property
    def session(self) -> int:
        """This kernel session's number (allocated on first call)."""
        with self._lock:
            return self._current_session()

    def store(self, line: int, source: str, output: str | None = None) -> None:
        """Record cell `line` (the execution count) of this session."""
        with self._lock:
            session = self._current_session()
            conn = self._connect()
            conn.execute(
                "INSERT OR REPLACE INTO history (session, line, source, output)"
                " VALUES (?, ?, ?, ?)",
                (session, line, source, output),
            )
            conn.commit()

    def tail(self, n: int | None, output: bool = False) -> list[HistoryEntry]:
        """The last `n` cells over all sessions, oldest first."""
        rows = self._query(
            "SELECT session, line, source, output FROM history"
            " ORDER BY session DESC, line DESC LIMIT ?",
            (DEFAULT_TAIL if n is None else n,),
        )
        return _entries(reversed(rows), output)

    def range(
        self, session: int, start: int = 1, stop: int | None = None, output: bool = False
    ) -> list[HistoryEntry]:
        """Cells `start <= line < stop` of `session` (0 = this one, -1 = the one before, ...)."""
        if session <= 0:
            with self._lock:
                current = self._current_session()
            if session < 0:
                older = self._query(
                    "SELECT session FROM sessions WHERE session < ? ORDER BY session DESC"
                    " LIMIT 1 OFFSET ?",
                    (current, -session - 1),
                )
                if not older:
                    return []
                current = older[0][0]
            session = current
        sql = "SELECT session, line, source, output FROM history WHERE session = ? AND line >= ?"
        params: tuple[Any, ...] = (session, start)
        if stop is not None:
            sql += " AND line < ?"
            params += (stop,)
        rows = self._query(sql + " ORDER BY line", params)
        return _entries(rows, output)

    def search(
        self, pattern: str = "*", n: int | None = None, unique: bool = False, output: bool = False
    ) -> list[HistoryEntry]:
        """Cells whose source matches the glob `pattern`, oldest first; the last `n` if given.

        With `unique`, each distinct source appears once (its latest occurrence).
        """
        where = "source GLOB ?"
        if unique:
            where += " AND rowid IN (SELECT MAX(rowid) FROM history GROUP BY source)"
        sql = f"SELECT session, line, source, output FROM history WHERE {where}"
        if n is None:
            return _entries(self._query(sql + " ORDER BY session, line", (pattern,)), output)
        rows = self._query(sql + " ORDER BY session DESC, line DESC LIMIT ?", (pattern, n))
        return _entries(reversed(rows), output)

    def close(self) -> None:
        """Mark this session ended and close the file (idempotent)."""
        with self._lock:
            if self._conn is None:
                return
            if self._session is not None:
                self._conn.execute(
                    "UPDATE sessions SET ended = ? WHERE session = ?", (_now(), self._session)
                )
                self._conn.commit()
            self._conn.close()
            self._conn = None

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

    def _current_session(self) -> int:
        if self._session is None:
            conn = self._connect()
            cursor = conn.execute(
                "INSERT INTO sessions (started, engine) VALUES (?, ?)", (_now(), self.engine)
            )
            conn.commit()
            assert cursor.lastrowid is not None
            self._session = cursor.lastrowid
        return self._session

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = self._open_file()
            except (OSError, sqlite3.Error) as exc:
                # History is a convenience: an unwritable data dir must not stop the kernel.
                logger.warning(
                    "kernel history cannot use %s (%s: %s); keeping this session's history in "
                    "memory only (set kernel.history_file to a writable path)",
                    self.path,
                    type(exc).__name__,
                    exc,
                )
                conn = sqlite3.connect(":memory:", check_same_thread=False)
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _open_file(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # A lost last cell after a power cut is fine for history; an fsync per cell is not.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error:
            conn.close()
            raise
        return conn


def _entries(rows: Any, output: bool) -> list[HistoryEntry]:
    if output:
        return [(session, line, (source, out)) for session, line, source, out in rows]
    return [(session, line, source) for session, line, source, _ in rows]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
