"""What a check of `storage validate` reports: its problems and what it repaired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmspell.storage.sql_storage import SqlStorage


@dataclass(frozen=True)
class Problem:
    """One thing a check found wrong."""

    check: str
    message: str
    tenant: str | None = None
    table: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """What one named check found (`applies=False`: not a thing on this backend)."""

    name: str
    component: str  # "" for the whole database
    applies: bool = True
    problems: tuple[Problem, ...] = ()
    repaired: tuple[str, ...] = ()


# A component's check: (opened storage, component name, repair) -> its result.
Check = Callable[["SqlStorage", str, bool], CheckResult]
