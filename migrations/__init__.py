"""Alembic environment and versions for the llmspell schema: one chain for SQLite and PostgreSQL.

`REVISIONS` lists the chain oldest first and `HEAD` its last revision, so opening storage can
check `alembic_version` with one SELECT without importing alembic (a test keeps them equal to
what alembic computes from `versions/`).
"""

REVISIONS: tuple[str, ...] = (
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0011",
    "0012",
    "0013",
    "0014",
    "0015",
    "0016",
    "0017",
    "0018",
)
HEAD: str = REVISIONS[-1]

__all__ = ["HEAD", "REVISIONS"]
