"""`Config`: read-only view of the effective configuration (secrets redacted)."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.base import ApiError, ApiNamespace, optional_str
from llmspell.runtime.config import redacted_view


class ConfigApi(ApiNamespace):
    """Read-only view of the effective configuration (secrets redacted)."""

    api_name = "Config"

    def get(self, path: str | None = None) -> Any:
        """The config value at a dotted `path` (`"storage.backend"`), a section as a table, or the
        whole config when no path is given. Secrets are redacted; unknown paths raise."""
        path = optional_str("Config.get", "path", path)
        flat = redacted_view(self._ctx.config)
        if not path:
            return _unflatten(flat)
        if path in flat:
            return flat[path]
        section = {k[len(path) + 1 :]: v for k, v in flat.items() if k.startswith(path + ".")}
        if section:
            return _unflatten(section)
        sections = sorted({k.split(".", 1)[0] for k in flat})
        raise ApiError(f"Config.get: no config key {path!r}; top-level keys: {', '.join(sections)}")

    def getDefaultEngine(self) -> str:
        """The configured default engine: "lua" or "python"."""
        return self._ctx.config.default_engine

    def isNetworkAccessAllowed(self) -> bool:
        """Whether tools may use the network (`tools.network_allowed`)."""
        return bool(self._ctx.config.tools.network_allowed)

    def isFileAccessAllowed(self) -> bool:
        """Whether the file tool has any allowed path (`tools.allowed_paths`)."""
        return bool(self._ctx.config.tools.allowed_paths)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
