"""Whether a SQLite file can be used, checked with the standard library only: a run checks its
storage this way before the script starts, and SQLAlchemy loads when the script first uses it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from llmspell.storage.errors import StorageError


def file_error(path: str, reason: str) -> StorageError:
    """The error for a SQLite file llmspell cannot create, open or write."""
    return StorageError(
        f"cannot use the SQLite database {path}: {reason}. It is storage.path (by default "
        "llmspell.db in the user data directory, see XDG_DATA_HOME): set storage.path or "
        "LLMSPELL_STORAGE__PATH to a writable file, or use --profile memory"
    )


def check_sqlite_file(path: str) -> None:
    """Create `path`'s directory and the file if missing, and take (then release) its write
    lock; a StorageError naming the file when any of that fails."""
    file = Path(path).expanduser()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(file, timeout=0)
    except (OSError, sqlite3.Error) as exc:
        raise file_error(str(file), str(exc)) from None
    try:
        # A writer holding the lock is fine (the script waits for it, busy_timeout_s);
        # a read-only file or directory is not.
        conn.execute("BEGIN IMMEDIATE")
        conn.rollback()
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise file_error(str(file), str(exc)) from None
    finally:
        conn.close()
