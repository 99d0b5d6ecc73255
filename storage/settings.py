"""`StorageSettings`: the plain values storage needs; the runtime builds them from its config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

# The storage backends, named once: config validation, `StorageSettings`, `backend_for` and
# the CLI's choices all read these.
Backend = Literal["sqlite", "memory", "postgres"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class StorageSettings:
    """What `open_storage` and the admin commands read; storage never imports runtime config.

    `component_backends` overrides `backend` per component (`{"vectors": "postgres"}`);
    `component_settings` holds each component's settings object (its defaults when absent).
    """

    backend: str = "sqlite"  # one of BACKENDS
    sqlite_path: str = "llmspell.db"
    sqlite_busy_timeout_s: float = 10.0  # how long a writer waits for another's lock
    auto_upgrade: bool = True
    pg_url: str = "postgresql://llmspell_app@localhost/llmspell"
    pg_admin_url: str = ""  # owner role for migrations; "" = pg_url
    pg_pool_min: int = 1
    pg_pool_max: int = 10
    pg_embedded: bool = False
    pg_data_dir: str = ""
    component_backends: Mapping[str, str] = field(default_factory=dict)
    component_settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for where, backend in [("storage backend", self.backend)] + [
            (f"backend of component {name!r}", value)
            for name, value in self.component_backends.items()
        ]:
            if backend not in BACKENDS:
                raise ValueError(
                    f"{where} {backend!r} is not supported; allowed: {', '.join(BACKENDS)}"
                )
        named = {*self.component_backends, *self.component_settings}
        if named:
            from llmspell.storage.registry import component_names

            unknown = sorted(named - set(component_names()))
            if unknown:
                raise ValueError(
                    f"unknown storage component {unknown[0]!r}; "
                    f"components: {', '.join(component_names())}"
                )

    def backend_of(self, component: str) -> str:
        """The backend `component` stores its rows on."""
        return self.component_backends.get(component, self.backend)

    def backends_in_use(self) -> list[str]:
        """Every backend some component uses, the main one first."""
        from llmspell.storage.registry import component_names

        used = {self.backend_of(name) for name in component_names()}
        return sorted(used, key=lambda backend: (backend != self.backend, backend))

    def settings_of(self, component: str, default: Any = None) -> Any:
        """The settings object of `component` (`default` when the runtime gave none)."""
        return self.component_settings.get(component, default)

    @property
    def admin_url(self) -> str:
        """The owner URL migrations run as (`pg_admin_url`, or `pg_url` when that is empty)."""
        return self.pg_admin_url or self.pg_url

    def with_changes(self, **changes: Any) -> StorageSettings:
        """A copy with some fields replaced (tests, embedded mode filling in its URLs)."""
        return replace(self, **changes)

    def with_component(self, name: str, settings: Any) -> StorageSettings:
        """A copy in which component `name` uses `settings`."""
        return replace(self, component_settings={**self.component_settings, name: settings})
