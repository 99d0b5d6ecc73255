"""`Artifact`: content stored for a session — versioned by name, deduplicated by hash,
binary-safe."""

from __future__ import annotations

import base64
import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    optional_str,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiNamespace, RawValue, ValidationError, raw_args, raw_of
from llmspell.runtime.api.display_api import IMAGE_MIMES
from llmspell.runtime.display import html_table, register_renderer
from llmspell.runtime.sessions import SessionManager, check_tags
from llmspell.runtime.sessions.artifacts import ArtifactContent, ArtifactManager, check_sequence
from llmspell.runtime.times import format_time, parse_time

if TYPE_CHECKING:
    from llmspell.storage.components.artifacts import ArtifactRecord

# Options of store/store_file with a meaning of their own; any other key is kept in metadata.
STORE_OPTIONS = ("mime_type", "tags", "metadata", "created_by")
QUERY_OPTIONS = frozenset(
    {
        "session_id",
        "type",
        "name",
        "name_pattern",
        "tags",
        "created_after",
        "created_before",
        "min_size",
        "max_size",
        "limit",
    }
)
RECORD_COLUMNS = ["sequence", "name", "version", "type", "mime_type", "size", "tags", "created_at"]


def artifact_id(record: ArtifactRecord) -> dict[str, Any]:
    """The id table scripts pass back: `{session_id, sequence, content_hash}`."""
    return {
        "session_id": record.session_id,
        "sequence": record.sequence,
        "content_hash": record.content_hash,
    }


def artifact_record(record: ArtifactRecord) -> dict[str, Any]:
    """`{id, name, type, mime_type, size, tags, metadata, version, created_at, created_by}`."""
    return {
        "id": artifact_id(record),
        "name": record.name,
        "type": record.type,
        "mime_type": record.mime_type,
        "size": record.size,
        "tags": list(record.tags),
        "metadata": record.metadata,
        "version": record.version,
        "created_at": format_time(record.created_at),
        "created_by": record.created_by,
    }


def _with_content(found: ArtifactContent) -> dict[str, Any]:
    return {"metadata": artifact_record(found.record), "content": found.content}


class ArtifactApi(ApiNamespace):
    """Content stored for a session: versioned by name, stored once per distinct bytes
    (sha256), binary-safe (NUL bytes and invalid UTF-8 come back exactly)."""

    api_name = "Artifact"

    @property
    def _artifacts(self) -> ArtifactManager:
        return self._ctx.infrastructure.get(ArtifactManager)

    @raw_args("content")
    def store(
        self,
        session_id: str,
        type: str,
        name: str,
        content: str | bytes | bytearray | memoryview,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store `content` (a string, any bytes) as artifact `name` of a session that is not
        archived; returns its id `{session_id, sequence, content_hash}`. The same name again is
        the next `version`; identical bytes are stored once. `type` is agent_output,
        tool_result, user_input, system_generated or a custom name. Options: `mime_type`
        (default: from the name's extension, else text/plain for UTF-8 text, else
        application/octet-stream), `tags`, `metadata`, `created_by`; other keys are kept in the
        metadata. The size limit is `storage.max_artifact_mb` (default 100)."""
        data = raw_of(content)
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise ValidationError(
                f"Artifact.store: content must be a string, got {type_name(_plain(content))}"
            )
        fields = _store_fields("Artifact.store", options)
        record = self._artifacts.store(session_id, type, name, data, **fields)
        return artifact_id(record)

    def store_file(
        self, session_id: str, path: str, type: str, meta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Store a file's bytes (read in chunks) as an artifact; the path must lie under one of
        `tools.allowed_paths` once symlinks and `..` are resolved. `meta`
        takes `name` (default: the file name) and the options of `Artifact.store`."""
        meta = dict(require_table("Artifact.store_file", "meta", meta))
        name = meta.pop("name", None)
        fields = _store_fields("Artifact.store_file", meta)
        record = self._artifacts.store_file(session_id, path, type, name=name, **fields)
        return artifact_id(record)

    def get(self, session_id: str, id: Any) -> dict[str, Any]:
        """`{metadata=record, content=string}` of an artifact (`id` is the table `store`
        returned, or its sequence number); raises if there is none."""
        sequence, content_hash = _sequence_of("Artifact.get", session_id, id)
        return _with_content(self._artifacts.get(session_id, sequence, content_hash))

    def get_version(self, session_id: str, name: str, version: int | None = None) -> dict[str, Any]:
        """`{metadata, content}` of the latest version of `name` in the session, or of the
        given `version`."""
        if version is not None:
            version = require_int("Artifact.get_version", "version", version, minimum=1)
        return _with_content(self._artifacts.get_version(session_id, name, version))

    def list(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """A session's artifact records in sequence order (nil: the current session)."""
        if session_id is None:
            session_id = self._ctx.infrastructure.get(SessionManager).current
            if session_id is None:
                raise ValidationError(
                    "Artifact.list: no session_id given and no current session "
                    "(see Session.set_current)"
                )
        return [artifact_record(r) for r in self._artifacts.list(session_id)]

    def query(self, options: dict[str, Any] | None = None) -> builtins.list[dict[str, Any]]:
        """Artifact records, newest first, matching `{session_id?, type?, name? (glob:
        "report*"; the reference's `name_pattern` is the same), tags? (all of them),
        created_after?, created_before? (RFC 3339 or Unix seconds), min_size?, max_size?
        (bytes), limit?}`; across sessions without session_id."""
        fn = "Artifact.query"
        options = require_table(fn, "options", options)
        check_options(fn, options, QUERY_OPTIONS)

        def time(name: str) -> Any:
            value = options.get(name)
            return None if value is None else parse_time(fn, name, value)

        def count(name: str) -> int | None:
            value = options.get(name)
            return None if value is None else require_int(fn, name, value, minimum=0)

        name = optional_str(fn, "name", options.get("name"))
        pattern = optional_str(fn, "name_pattern", options.get("name_pattern"))
        if name is not None and pattern is not None and name != pattern:
            raise ValidationError(
                f"{fn}: name {name!r} and name_pattern {pattern!r} differ; give one of them"
            )
        tags = options.get("tags")
        from llmspell.storage.components.artifacts import ArtifactQuery

        query = ArtifactQuery(
            session_id=optional_str(fn, "session_id", options.get("session_id")),
            type=optional_str(fn, "type", options.get("type")),
            name=name if name is not None else pattern,
            tags=check_tags([tags] if isinstance(tags, str) else tags),
            created_after=time("created_after"),
            created_before=time("created_before"),
            min_size=count("min_size"),
            max_size=count("max_size"),
            limit=count("limit"),
        )
        return [artifact_record(r) for r in self._artifacts.query(query)]

    def delete(self, session_id: str, id: Any) -> bool:
        """Delete an artifact of a session that is not archived; its bytes are removed when no
        other artifact holds them. Returns true; raises if there is no such artifact."""
        sequence, content_hash = _sequence_of("Artifact.delete", session_id, id)
        return self._artifacts.delete(session_id, sequence, content_hash)


def _plain(value: Any) -> Any:
    """A raw script value in its converted form (for naming its type in an error)."""
    if not isinstance(value, RawValue):
        return value
    try:
        return value.to_python()
    except ValueError:
        return value.raw


def _store_fields(fn: str, options: dict[str, Any] | None) -> dict[str, Any]:
    options = dict(require_table(fn, "options", options))
    fields = {name: options.pop(name) for name in STORE_OPTIONS if name in options}
    if options:
        metadata = require_table(fn, "metadata", fields.get("metadata"))
        fields["metadata"] = {**metadata, **options}
    return fields


def _sequence_of(fn: str, session_id: Any, id: Any) -> tuple[int, str | None]:
    """The sequence (and content hash, when the id table has one) an id names."""
    if isinstance(id, dict):
        given = id.get("session_id")
        if given is not None and given != session_id:
            raise ValidationError(
                f"{fn}: the id belongs to session {given!r}, not to {session_id!r}"
            )
        if "sequence" not in id:
            raise ValidationError(
                f"{fn}: id must be the table Artifact.store returned "
                "({session_id, sequence, content_hash}) or a sequence number"
            )
        content_hash = id.get("content_hash")
        return check_sequence(id["sequence"]), (
            None if content_hash is None else require_str(fn, "id.content_hash", content_hash)
        )
    return check_sequence(id), None


def _is_artifact_record(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), dict)
        and {"name", "version", "mime_type", "size"} <= set(value)
    )


def _render_artifacts(value: Any) -> dict[str, Any] | None:
    """An artifact with an image MIME type (from `get`) as the image; artifact records (from
    `list`/`query`) as a table."""
    if isinstance(value, dict) and set(value) == {"metadata", "content"}:
        record, content = value["metadata"], value["content"]
        if _is_artifact_record(record) and record["mime_type"] in IMAGE_MIMES:
            data = content.encode("utf-8") if isinstance(content, str) else content
            if not isinstance(data, bytes):
                return None
            payload = (
                data.decode("utf-8", "replace")
                if record["mime_type"] == "image/svg+xml"
                else base64.b64encode(data).decode("ascii")
            )
            summary = f"<{record['mime_type']} artifact {record['name']!r}, {len(data)} bytes>"
            return {record["mime_type"]: payload, "text/plain": summary}
        return None
    rows = [value] if _is_artifact_record(value) else value
    if not isinstance(rows, list) or not rows or not all(_is_artifact_record(r) for r in rows):
        return None
    cells = [{**r, "sequence": r["id"].get("sequence")} for r in rows]
    return {"text/html": html_table(cells, RECORD_COLUMNS)}


register_renderer(_render_artifacts)
