"""`storage validate`: named checks of a store's consistency, one message per problem found.

Each check reads every tenant (see `every_tenant`) and says what is wrong and where. `repair`
fixes what can be rebuilt from the rows themselves: the SQLite keyword index (a VACUUM
renumbers rowids), missing event partitions, and RLS switched off on a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from llmspell.storage import registry
from llmspell.storage.settings import StorageSettings
from llmspell.storage.sql_storage import SqlStorage, open_storage

from .checks import (
    COMPONENT_CHECKS,
    CheckResult,
    Problem,
    row_level_security,
    schema_revision,
)
from .every_tenant import require_owner

__all__ = ["CHECK_NAMES", "CheckResult", "Problem", "ValidationReport", "validate"]

# The tenant the command opens storage as; every check reads all tenants regardless.
VALIDATE_TENANT = "llmspell-validate"


@dataclass(frozen=True)
class ValidationReport:
    """Every check's result; `ok` when none found a problem left unrepaired."""

    results: list[CheckResult] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [problem for result in self.results for problem in result.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(
    settings: StorageSettings,
    component: str | None = None,
    repair: bool = False,
    storage: SqlStorage | None = None,
) -> ValidationReport:
    """Run every check (or only `component`'s and the schema's) on the configured store.

    `storage`: an open storage to check (the memory backend's database lives only in its
    process); by default one is opened without migrating anything. `repair` rebuilds what the
    rows determine and reports it under `repaired`; problems it cannot fix stay problems.
    """
    require_owner(settings, "validate", "it reads every tenant")
    names = registry.component_names()
    if component is not None and component not in names:
        raise ValueError(f"validate: unknown component {component!r}; allowed: {', '.join(names)}")
    if not isinstance(repair, bool):
        raise ValueError(f"validate: repair must be true or false, got {repair!r}")
    selected = [component] if component else names
    revision = [
        schema_revision(settings, storage, name, selected)
        for name in _per_backend(settings, selected)
    ]
    report = ValidationReport(revision)
    if any(result.problems for result in revision):
        return report  # the other checks read tables the current schema defines
    with _opened(settings, storage) as opened:
        report.results.append(row_level_security(opened, selected, repair))
        for _, owner, check in COMPONENT_CHECKS:
            if owner in selected:
                report.results.append(check(opened, owner, repair))
    return report


def _per_backend(settings: StorageSettings, selected: list[str]) -> list[str]:
    """One component of `selected` per backend they use (the schema is per database)."""
    first: dict[str, str] = {}
    for name in selected:
        first.setdefault(settings.backend_of(name), name)
    return list(first.values())


@contextmanager
def _opened(settings: StorageSettings, storage: SqlStorage | None) -> Iterator[SqlStorage]:
    if storage is not None:
        yield storage
        return
    with open_storage(settings.with_changes(auto_upgrade=False), VALIDATE_TENANT) as opened:
        yield opened


CHECK_NAMES = ("schema_revision", "row_level_security", *(c[0] for c in COMPONENT_CHECKS))
