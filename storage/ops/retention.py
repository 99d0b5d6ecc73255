"""`prune_events`: event retention for a whole store, behind `llmspell storage retention`.

Each tenant's `EventLog.prune` deletes its expired events and (with `before`) every event
older than that; on PostgreSQL whole monthly partitions left without a live row are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from llmspell.storage import registry
from llmspell.storage.components.events import PruneResult
from llmspell.storage.ops.endpoints import Endpoint, checked_tenants, component_tenants, opened


@dataclass(frozen=True)
class TenantPruned:
    """What `prune_events` did for one tenant."""

    tenant: str
    deleted: int
    partitions_dropped: tuple[str, ...]


def prune_events(
    storage: Endpoint,
    *,
    before: datetime | None = None,
    tenants: Sequence[str] | None = None,
) -> list[TenantPruned]:
    """Prune the event log of `tenants` (default: every tenant with events): expired events,
    and with `before` (timezone-aware) every event older than it."""
    if before is not None and (not isinstance(before, datetime) or before.tzinfo is None):
        raise ValueError(f"prune_events: before must be a timezone-aware datetime, got {before!r}")
    wanted = checked_tenants(tenants)
    component = registry.get("events")
    pruned: list[TenantPruned] = []
    with opened(storage) as store:
        names = wanted if wanted is not None else component_tenants(store, component)
        for tenant in names:
            result: PruneResult = store.for_tenant(tenant).events.prune(before)
            pruned.append(TenantPruned(tenant, result.deleted, result.partitions_dropped))
    return pruned
