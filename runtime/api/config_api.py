"""`Config`: read-only view of the effective configuration (secrets redacted).

Scripts never change the configuration: providers, security settings and allowed paths are the
operator's (docs/user-guide/09-security-model.md), so the reference system's setters refuse."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import optional_str, require_int, require_str
from llmspell.runtime.api.base import ApiError, ApiNamespace
from llmspell.runtime.config import redact, redacted_view

if TYPE_CHECKING:
    from llmspell.runtime.providers import ProviderManager

# What `Config.getPermissions()` reports: a script may read the config, never change it.
PERMISSIONS = {
    "read_config": True,
    "modify_providers": False,
    "modify_security": False,
    "modify_paths": False,
}
_READ_ONLY = (
    "scripts cannot change the configuration; set it in llmspell.toml (see `llmspell config show`)"
)


class ConfigApi(ApiNamespace):
    """Read-only view of the effective configuration (secrets redacted)."""

    api_name = "Config"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._snapshots: list[int] = []

    def get(self, path: str | None = None) -> Any:
        """The config value at a dotted `path` (`"storage.backend"`), a section as a table, or the
        whole config when no path is given; nil for a path the config does not have. Secrets are
        redacted."""
        path = optional_str("Config.get", "path", path)
        flat = redacted_view(self._ctx.config)
        if not path:
            return _unflatten(flat)
        if path in flat:
            return flat[path]
        section = {k[len(path) + 1 :]: v for k, v in flat.items() if k.startswith(path + ".")}
        return _unflatten(section) if section else None

    def getSection(self, name: str) -> dict[str, Any] | None:
        """The config section `name` (`"tools"`, `"engines.lua"`) as a table, or nil when there
        is no such section. Secrets are redacted."""
        value = self.get(require_str("Config.getSection", "name", name))
        return value if isinstance(value, dict) else None

    def getDefaultEngine(self) -> str:
        """The configured default engine: "lua" or "python"."""
        return self._ctx.config.default_engine

    def getProvider(self, name: str) -> dict[str, Any] | None:
        """The settings of provider `name` — `{name, type, enabled, api_key_env, base_url,
        model, models, timeout_s, max_retries, ...}` — or nil when there is none. Keys are never
        shown: `api_key_env` names the variable a key is read from."""
        name = require_str("Config.getProvider", "name", name)
        providers = self._providers
        if name not in providers.names():
            return None
        settings = providers.config_of(name).model_dump(mode="json")
        settings["api_key_env"] = providers.config_of(name).key_env
        return {"name": name, **redact(f"providers.{name}", settings)}

    def listProviders(self) -> list[str]:
        """The names of every provider (the built-in `mock` included), sorted."""
        return self._providers.names()

    def setProvider(self, name: Any, config: Any = None) -> None:
        """Refused: providers are set in llmspell.toml (`[providers.<name>]`). A script-set
        provider could send a stored API key to a server of its choosing."""
        raise ApiError(f"Config.setProvider: {_READ_ONLY}; providers are [providers.<name>]")

    def getSecurity(self) -> dict[str, Any]:
        """`{allow_file_access, allow_network_access, allow_process_spawn, sandboxed,
        lua_security, allowed_paths}`: what scripts and tools may reach."""
        config = self._ctx.config
        return {
            "allow_file_access": self.isFileAccessAllowed(),
            "allow_network_access": self.isNetworkAccessAllowed(),
            "allow_process_spawn": False,  # no tool starts processes
            "sandboxed": not self._ctx.engine_trusted,
            "lua_security": config.engines.lua.security,
            "allowed_paths": list(config.tools.allowed_paths),
        }

    def setSecurity(self, config: Any = None) -> None:
        """Refused: security settings are the operator's (llmspell.toml), never a script's."""
        raise ApiError(
            f"Config.setSecurity: {_READ_ONLY}; security settings are tools.network_allowed, "
            "tools.allowed_paths and engines.lua.security"
        )

    def isNetworkAccessAllowed(self) -> bool:
        """Whether tools may use the network (`tools.network_allowed`)."""
        return bool(self._ctx.config.tools.network_allowed)

    def isFileAccessAllowed(self) -> bool:
        """Whether the file tool has any allowed path (`tools.allowed_paths`)."""
        return bool(self._ctx.config.tools.allowed_paths)

    def getTools(self) -> dict[str, Any]:
        """The `tools` section: `{allowed_paths, network_allowed}`."""
        tools: dict[str, Any] = self.get("tools")
        return tools

    def addAllowedPath(self, path: Any = None) -> None:
        """Refused: the paths tools may reach are `tools.allowed_paths` in llmspell.toml."""
        raise ApiError(
            f"Config.addAllowedPath: {_READ_ONLY}; allowed paths are tools.allowed_paths"
        )

    def getPermissions(self) -> dict[str, bool]:
        """What a script may do with the config: `{read_config = true, modify_providers = false,
        modify_security = false, modify_paths = false}`."""
        return dict(PERMISSIONS)

    def snapshot(self) -> int:
        """Remember the configuration now; returns its timestamp (Unix seconds) for
        `Config.restoreSnapshot`. As scripts cannot change the config, every snapshot equals it."""
        stamp = int(time.time())
        if stamp not in self._snapshots:
            self._snapshots.append(stamp)
        return stamp

    def restoreSnapshot(self, timestamp: int) -> bool:
        """Return to the snapshot taken at `timestamp` (from `Config.snapshot()`); returns true.
        Nothing changes, as the config cannot change; an unknown timestamp is an error."""
        stamp = require_int("Config.restoreSnapshot", "timestamp", timestamp)
        if stamp not in self._snapshots:
            taken = ", ".join(str(s) for s in self._snapshots) or "none yet"
            raise ApiError(f"Config.restoreSnapshot: no snapshot at {stamp}; snapshots: {taken}")
        return True

    def toJson(self) -> str:
        """The whole configuration as a JSON string (secrets redacted, keys sorted)."""
        return json.dumps(self.get(), sort_keys=True, default=str)

    @property
    def _providers(self) -> ProviderManager:
        from llmspell.runtime.providers import ProviderManager

        return self._ctx.infrastructure.get(ProviderManager)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
