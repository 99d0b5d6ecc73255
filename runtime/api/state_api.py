"""`State`: scoped key/value state, persistent in storage, with kept versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from llmspell.runtime.api.arguments import ensure_data, optional_str, require_int, require_str
from llmspell.runtime.api.base import ApiNamespace
from llmspell.runtime.errors import DomainError, InvalidArgument, kind_of
from llmspell.runtime.state import StateManager
from llmspell.runtime.times import format_time

if TYPE_CHECKING:
    from llmspell.runtime.workflows.manager import WorkflowManager


# where the reference system keeps a workflow step's state: key `workflow:<id>:<step>`
WORKFLOW_SCOPE = "global"
NO_STATE_MIGRATIONS = (
    "state has no schema version of its own; the storage schema (state included) is migrated "
    "by the operator with `llmspell storage upgrade`, not by scripts"
)
NO_STATE_BACKUPS = (
    "state lives in the storage database (a SQLite file or PostgreSQL); back that up with its "
    "own tools (copy the file while no process writes, or pg_dump)"
)


class StateApi(ApiNamespace):
    """Scoped key/value state, persistent in storage, with kept versions."""

    api_name = "State"

    @property
    def _state(self) -> StateManager:
        return self._ctx.infrastructure.get(StateManager)

    def save(self, scope: str, key: str, value: Any) -> bool:
        """Store a JSON-able `value` at (`scope`, `key`); scopes are free text (`global`,
        `session:<id>`, `agent:<id>`, `custom:<x>`...). Returns true."""
        self._state.save(scope, key, ensure_data("State.save", "value", value))
        return True

    def load(self, scope: str, key: str) -> Any:
        """The value `save(scope, key)` last wrote, or nil."""
        return self._state.load(scope, key)

    def delete(self, scope: str, key: str) -> bool:
        """Delete a key (and its kept versions); true if it existed."""
        return bool(self._state.delete(scope, key))

    def exists(self, scope: str, key: str) -> bool:
        """Whether (`scope`, `key`) holds a value."""
        return bool(self._state.exists(scope, key))

    def list_keys(self, scope: str, prefix: str | None = None) -> list[str]:
        """Sorted list of the keys in `scope`, optionally only those starting with `prefix`."""
        prefix = optional_str("State.list_keys", "prefix", prefix)
        return list(self._state.list_keys(scope, prefix))

    def clear(self, scope: str) -> int:
        """Delete every key of `scope` (this tenant only); returns the number removed."""
        return int(self._state.clear(scope))

    def history(self, scope: str, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        """All kept versions of a key, current first: `{value, version, updated_at}` records."""
        if limit is not None:
            limit = require_int("State.history", "limit", limit, minimum=1)
        versions = self._state.history(scope, key, limit)
        return [
            {"value": v.value, "version": v.version, "updated_at": format_time(v.updated_at)}
            for v in versions
        ]

    def agent_get(self, agent_id: str, key: str) -> Any:
        """`State.load("agent:" .. agent_id, key)`."""
        return self._state.load(_scope("agent", agent_id), key)

    def agent_set(self, agent_id: str, key: str, value: Any) -> bool:
        """`State.save("agent:" .. agent_id, key, value)`."""
        self._state.save(
            _scope("agent", agent_id), key, ensure_data("State.agent_set", "value", value)
        )
        return True

    def workflow_get(self, execution_id: str, step: str) -> Any:
        """The stored output of `step` in a workflow execution (from workflow state, as the
        run recorded it): its result table, a list of per-iteration results for a loop body
        step. Otherwise, as the reference system stores step state, the value of key
        `workflow:<execution_id>:<step>` in scope `global`; nil when neither holds one."""
        execution_id = require_str("State.workflow_get", "execution_id", execution_id)
        step = require_str("State.workflow_get", "step", step)
        output = _workflows(self).step_output(execution_id, step)
        if output is None:
            output = self._state.load(WORKFLOW_SCOPE, f"workflow:{execution_id}:{step}")
        return output

    def workflow_list(self, execution_id: str) -> list[str]:
        """Sorted names of the steps recorded for a workflow execution, together with the
        `<step>` of every `workflow:<execution_id>:<step>` key in scope `global` (empty when
        there is neither)."""
        execution_id = require_str("State.workflow_list", "execution_id", execution_id)
        prefix = f"workflow:{execution_id}:"
        keyed = {k[len(prefix) :] for k in self._state.list_keys(WORKFLOW_SCOPE, prefix)}
        return sorted(set(_workflows(self).step_names(execution_id)) | keyed)

    def tool_get(self, tool_id: str, key: str) -> Any:
        """`State.load("tool:" .. tool_id, key)`."""
        return self._state.load(_scope("tool", tool_id), key)

    def tool_set(self, tool_id: str, key: str, value: Any) -> bool:
        """`State.save("tool:" .. tool_id, key, value)`."""
        self._state.save(
            _scope("tool", tool_id), key, ensure_data("State.tool_set", "value", value)
        )
        return True

    def get_storage_usage(self) -> dict[str, Any]:
        """What this tenant's state takes: `{bytes_used (UTF-8 bytes of the stored JSON
        values), entries_count (keys, over every scope), scopes_count, versions_count (kept
        versions, current ones included)}`."""
        usage = self._state.usage()
        return {
            "bytes_used": usage.value_bytes,
            "entries_count": usage.entries,
            "scopes_count": usage.scopes,
            "versions_count": usage.versions,
        }

    def migrate(self, version: Any = None) -> NoReturn:
        """Not for scripts: state has no schema version of its own; the storage schema (state
        included) is migrated by the operator, `llmspell storage upgrade`."""
        raise DomainError(f"State.migrate: {NO_STATE_MIGRATIONS}")

    def get_migration_status(self) -> NoReturn:
        """Not for scripts: see `State.migrate`; `llmspell storage schema` shows the
        storage schema's revision."""
        raise DomainError(f"State.get_migration_status: {NO_STATE_MIGRATIONS}")

    def get_schema_versions(self) -> NoReturn:
        """Not for scripts: see `State.migrate`."""
        raise DomainError(f"State.get_schema_versions: {NO_STATE_MIGRATIONS}")

    def create_backup(self, name: Any = None) -> NoReturn:
        """Not provided: back up the storage database itself (see `State.list_backups`)."""
        raise DomainError(f"State.create_backup: {NO_STATE_BACKUPS}")

    def list_backups(self) -> NoReturn:
        """Not provided: llmspell keeps state in the storage database (SQLite file or
        PostgreSQL), which is backed up with that database's own tools."""
        raise DomainError(f"State.list_backups: {NO_STATE_BACKUPS}")

    def restore_backup(self, id: Any = None) -> NoReturn:
        """Not provided: see `State.list_backups`."""
        raise DomainError(f"State.restore_backup: {NO_STATE_BACKUPS}")

    def validate_backup(self, id: Any = None) -> NoReturn:
        """Not provided: see `State.list_backups`."""
        raise DomainError(f"State.validate_backup: {NO_STATE_BACKUPS}")

    def cleanup_backups(self, keep_count: Any = None) -> NoReturn:
        """Not provided: see `State.list_backups`."""
        raise DomainError(f"State.cleanup_backups: {NO_STATE_BACKUPS}")


def _workflows(api: StateApi) -> WorkflowManager:
    from llmspell.runtime.workflows.manager import WorkflowManager

    return api._ctx.infrastructure.get(WorkflowManager)


def _scope(kind: str, ident: Any) -> str:
    """`agent:<id>` and the like; the id is checked here, the whole scope by the manager."""
    if not isinstance(ident, str):
        raise InvalidArgument(f"id must be a string, got {kind_of(ident)}")
    if not ident:
        raise InvalidArgument("id must be a non-empty string")
    if len(ident) > 200:
        raise InvalidArgument(f"id must be at most 200 characters, got {len(ident)}")
    return f"{kind}:{ident}"
