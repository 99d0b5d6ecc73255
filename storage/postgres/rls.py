"""Row-level security: the one tenant policy every table gets, as DDL for the migrations."""

from __future__ import annotations

from collections.abc import Callable

POLICY_NAME = "tenant_isolation"
TENANT_SETTING = "app.tenant_id"
# `true` = missing_ok: an unset tenant reads NULL, so it matches no row instead of failing.
POLICY_PREDICATE = "tenant_id = current_setting('app.tenant_id', true)"


def enable_rls_sql(table: str, quote: Callable[[str], str]) -> list[str]:
    """ENABLE + FORCE row level security on `table` and create the tenant policy.

    FORCE makes the policy bind the table owner too; `quote` quotes identifiers for the dialect.
    """
    name = quote(table)
    return [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {quote(POLICY_NAME)} ON {name} "
        f"USING ({POLICY_PREDICATE}) WITH CHECK ({POLICY_PREDICATE})",
    ]


def disable_rls_sql(table: str, quote: Callable[[str], str]) -> list[str]:
    """The reverse of `enable_rls_sql` (for downgrades that keep the table)."""
    name = quote(table)
    return [
        f"DROP POLICY IF EXISTS {quote(POLICY_NAME)} ON {name}",
        f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY",
    ]
