"""Row-level security: the one tenant policy every table gets, as DDL for the migrations."""

from __future__ import annotations

from collections.abc import Callable

from llmspell.storage.tenancy import TENANT_SETTING

POLICY_NAME = "tenant_isolation"
# `true` = missing_ok: an unset tenant reads NULL, so it matches no row instead of failing.
POLICY_PREDICATE = f"tenant_id = current_setting('{TENANT_SETTING}', true)"


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
