"""`open_storage` and `SqlStorage`: the components of one tenant, each on its backend's database."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from llmspell.storage import registry
from llmspell.storage.backend import backend_for
from llmspell.storage.database import Database, EngineSource
from llmspell.storage.settings import StorageSettings
from llmspell.storage.tenancy import Tenant


class _Databases:
    """The databases of one opened storage: one per backend in use, opened on first use and
    shared by every component (and every tenant view) on that backend."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self._sources: dict[str, EngineSource] = {}
        self._lock = threading.Lock()
        self._closed = False

    def database(self, backend_name: str, tenant: Tenant) -> Database:
        backend = backend_for(backend_name)
        with self._lock:
            if self._closed:
                raise RuntimeError("storage is closed")
            source = self._sources.get(backend_name)
            if source is None:
                source = self._sources[backend_name] = backend.source(self.settings)
        return Database(backend, source, tenant.id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            source.close()


class SqlStorage:
    """The storage of one tenant: `storage.<component>` is that component's store (built on
    first use, on the database of the component's backend; see `llmspell.storage.registry`)."""

    def __init__(
        self,
        settings: StorageSettings,
        tenant: Tenant,
        databases: _Databases | None = None,
    ) -> None:
        self.settings = settings
        self.tenant_id = tenant.id
        self.backend = settings.backend
        self._tenant = tenant
        self._owns_databases = databases is None
        self._databases = databases or _Databases(settings)

    def database(self, component: str) -> Database:
        """The database `component` keeps its rows in, for this tenant."""
        registry.get(component)
        return self._databases.database(self.settings.backend_of(component), self._tenant)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            component = registry.get(name)
        except KeyError as exc:
            raise AttributeError(str(exc.args[0])) from None
        settings = self.settings.settings_of(name, component.default_settings())
        store = component.store(self.database(name), self._tenant, settings)
        # Cached as a plain attribute: later lookups never come back here.
        self.__dict__[name] = store
        return store

    def for_tenant(self, tenant_id: str) -> SqlStorage:
        """Storage for another tenant on the same connections (one pool for many tenants).

        Closing it does nothing; the connections belong to this storage.
        """
        return SqlStorage(self.settings, Tenant(tenant_id), self._databases)

    def open(self) -> SqlStorage:
        """Connect to every database whose backend `opens_eagerly` (checking or migrating its
        schema) now, so a broken setup fails here rather than halfway through a script."""
        for name in self.settings.backends_in_use():
            backend = backend_for(name)
            if backend.opens_eagerly:
                _ = self._databases.database(name, self._tenant).engine
        return self

    def close(self) -> None:
        """Release connections and pools (idempotent)."""
        if self._owns_databases:
            self._databases.close()

    def __enter__(self) -> SqlStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SqlStorage backend={self.backend} tenant={self.tenant_id!r}>"


def open_storage(settings: StorageSettings, tenant_id: str) -> SqlStorage:
    """Open storage for `tenant_id`.

    SQLite and memory connect (and check or upgrade the schema) now; PostgreSQL connects on
    first use, so building a runtime stays cheap.
    """
    storage = SqlStorage(settings, Tenant(tenant_id))
    try:
        return storage.open()
    except BaseException:
        storage.close()
        raise
