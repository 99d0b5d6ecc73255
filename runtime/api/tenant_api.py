"""`Tenant`: the tenant this runtime works for (fixed when storage opened)."""

from __future__ import annotations

from llmspell.runtime.api.base import ApiNamespace


class TenantApi(ApiNamespace):
    """The tenant this runtime works for."""

    api_name = "Tenant"

    def id(self) -> str:
        """The runtime's tenant id (read-only; set by `[tenancy] tenant_id`)."""
        return self._ctx.tenant_id
