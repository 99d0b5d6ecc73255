"""The recipe of docs/developer-guide/03-extending.md, followed from a copy of the checkout: a
new storage component (its module and its migration, nothing else) is in the built wheel,
migrated by `storage upgrade`, listed by `storage schema` and usable as `storage.<name>`, on
SQLite, from a fresh install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from wheel_helpers import build_wheel, install_wheel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
NOT_SOURCES = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
    ".mypy_cache", ".ruff_cache", "notebooks", "tests", "docs", "benchmarks",
)  # fmt: skip

COMPONENT = '''"""Notes: a component added by the recipe (the packaging tests)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Column, PrimaryKeyConstraint, Table, Text, insert, select

from llmspell.storage.database import Database
from llmspell.storage.registry import Component
from llmspell.storage.schema import metadata, tenant_column
from llmspell.storage.tenancy import Tenant

__all__ = ["NotesStore", "SqlNotesStore"]


class NotesStore(Protocol):
    def put(self, key: str, text: str) -> None: ...

    def get(self, key: str) -> str | None: ...


notes = Table(
    "notes",
    metadata,
    tenant_column(),
    Column("key", Text, nullable=False),
    Column("text", Text, nullable=False),
    PrimaryKeyConstraint("tenant_id", "key"),
)


class SqlNotesStore:
    def __init__(self, db: Database, tenant: Tenant, settings: Any = None) -> None:
        self._db = db
        self._put = insert(notes).values(tenant.values())
        self._get = select(notes.c.text).where(tenant.where(notes, "key"))

    def put(self, key: str, text: str) -> None:
        with self._db.transaction(write=True) as conn:
            conn.execute(self._put, {"key": key, "text": text})

    def get(self, key: str) -> str | None:
        with self._db.transaction() as conn:
            found: str | None = conn.execute(self._get, {"key": key}).scalar_one_or_none()
            return found


COMPONENT = Component(
    name="notes", title="notes (recipe test)", protocol=NotesStore, tables=(notes,),
    store=SqlNotesStore,
)
'''

MIGRATION = '''"""Notes (recipe test).

Revision ID: {rev}
Revises: {down}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from llmspell.storage.postgres.rls import enable_rls_sql

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "notes",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "key", name="pk_notes"),
    )
    if bind.dialect.name == "postgresql":
        for statement in enable_rls_sql("notes", bind.dialect.identifier_preparer.quote):
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("notes")
'''

PROBE = """
import sys
from pathlib import Path
from llmspell.storage import StorageSettings, admin, open_storage, registry
import llmspell.storage.components.notes as notes_module

assert Path(notes_module.__file__).is_relative_to(Path(sys.argv[1])), notes_module.__file__
assert "notes" in registry.component_names()
settings = StorageSettings(backend="sqlite", sqlite_path=sys.argv[2])
admin.upgrade(settings)
storage = open_storage(settings, "tenant-a")
storage.notes.put("greeting", "hello from the recipe")
other = open_storage(settings, "tenant-b")
print(storage.notes.get("greeting"), other.notes.get("greeting"))
report = admin.schema_report(settings, "notes")
print(sorted(table["name"] for table in report["tables"]))
"""


def test_a_component_added_by_the_recipe_works_from_the_built_wheel(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCES, symlinks=True)
    (source / "storage" / "components" / "notes.py").write_text(COMPONENT)
    # the next revision of the one chain, named in migrations/__init__.py's REVISIONS
    revisions_file = source / "migrations" / "__init__.py"
    text = revisions_file.read_text()
    head = sorted(p.name[:4] for p in (source / "migrations" / "versions").glob("0*.py"))[-1]
    rev = f"{int(head) + 1:04d}"
    (source / "migrations" / "versions" / f"{rev}_notes.py").write_text(
        MIGRATION.format(rev=rev, down=head)
    )
    revisions_file.write_text(text.replace(f'    "{head}",\n)', f'    "{head}",\n    "{rev}",\n)'))
    assert f'"{rev}"' in revisions_file.read_text()

    wheel = build_wheel(source, tmp_path / "dist")
    venv = tmp_path / "venv"
    python = install_wheel(wheel, venv)
    out = subprocess.run(
        [str(python), "-I", "-c", PROBE, str(venv), str(tmp_path / "notes.db")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    got, tables = out.stdout.splitlines()
    assert got == "hello from the recipe None"  # tenant-b does not see tenant-a's note
    assert tables == "['notes']"
