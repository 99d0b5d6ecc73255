"""`Memory`: episodic (what was said), semantic (a bi-temporal graph), procedural (what worked).
(Over ~450 lines: three sub-tables of one global, each a thin layer over its manager.)"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import (
    check_options,
    ensure_data,
    optional_number,
    require_int,
    require_str,
    require_table,
    type_name,
)
from llmspell.runtime.api.base import ApiContext, ApiNamespace, ValidationError
from llmspell.runtime.times import format_optional_time, format_time, parse_time

if TYPE_CHECKING:
    # Memory loads SQLAlchemy and numpy: only when a script first uses it, not when the
    # runtime builds its globals.
    from llmspell.runtime.memory import MemoryManager
    from llmspell.runtime.memory.episodic import EpisodicEntry
    from llmspell.runtime.memory.procedural import Pattern
    from llmspell.storage.components.graph import EntityVersion, RelationshipVersion


TURN_FIELDS = frozenset({"session_id", "role", "content", "metadata", "timestamp"})


def _time(fn: str, arg: str, value: Any) -> datetime | None:
    return None if value is None else parse_time(fn, arg, value)


def _bool(fn: str, arg: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(f"{fn}: {arg} must be true or false, got {type_name(value)}")
    return value


def _properties(fn: str, arg: str, value: Any) -> dict[str, Any]:
    table = require_table(fn, arg, value)
    return dict(ensure_data(fn, arg, table))


def entry_record(entry: EpisodicEntry) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": entry.id,
        "session_id": entry.session_id,
        "role": entry.role,
        "content": entry.content,
        "timestamp": format_time(entry.timestamp),
        "created_at": format_time(entry.timestamp),  # the reference's name for `timestamp`
        "ingestion_time": format_time(entry.ingestion_time),
        "metadata": entry.metadata,
        "processed": entry.processed,
    }
    if entry.score is not None:
        record["score"] = entry.score
    return record


def entity_description(entity: EntityVersion) -> str:
    """The entity's `description` property, else its type and properties as one line (the
    reference's scripts print `name .. ": " .. description`, so it is always a string)."""
    described = entity.properties.get("description")
    if isinstance(described, str):
        return described
    facts = ", ".join(f"{k}={v}" for k, v in sorted(entity.properties.items()))
    return f"{entity.type}: {facts}" if facts else entity.type


def entity_record(entity: EntityVersion) -> dict[str, Any]:
    return {
        "id": entity.id,
        "name": entity.name,
        "type": entity.type,
        "description": entity_description(entity),
        "properties": entity.properties,
        "version": entity.version,
        "valid_from": format_time(entity.valid_from),
        "valid_to": format_optional_time(entity.valid_to),
        "recorded_at": format_time(entity.recorded_at),
        "superseded_at": format_optional_time(entity.superseded_at),
    }


def edge_record(edge: RelationshipVersion) -> dict[str, Any]:
    return {
        "id": edge.id,
        "from": edge.from_id,
        "to": edge.to_id,
        "type": edge.type,
        "properties": edge.properties,
        "valid_from": format_time(edge.valid_from),
        "valid_to": format_optional_time(edge.valid_to),
    }


def pattern_record(pattern: Pattern) -> dict[str, Any]:
    return {
        "id": pattern.id,
        "trigger": pattern.trigger,
        "action": pattern.action,
        "successes": pattern.successes,
        "failures": pattern.failures,
        "success_rate": pattern.success_rate,
        "confidence": pattern.confidence,
        "first_seen": format_time(pattern.first_seen),
        "last_seen": format_time(pattern.last_seen),
        "context": pattern.context,
    }


def _manager(ctx: ApiContext) -> MemoryManager:
    from llmspell.runtime.memory import MemoryManager

    return ctx.infrastructure.get(MemoryManager)


class _MemoryPart(ApiNamespace):
    @property
    def _memory(self) -> MemoryManager:
        return _manager(self._ctx)


class EpisodicApi(_MemoryPart):
    """Episodic memory: the turns of each session, found again by what they mean."""

    api_name = "Memory.episodic"

    def add(
        self, session_id: str, role: str, content: str, metadata: dict[str, Any] | None = None
    ) -> str:
        """Remember one turn (`role` such as user/assistant/system/tool) of a session; returns
        the entry id. `metadata` is a table kept with it."""
        fn = "Memory.episodic.add"
        meta = _properties(fn, "metadata", metadata)
        return self._memory.episodic.add(
            require_str(fn, "session_id", session_id), require_str(fn, "role", role),
            require_str(fn, "content", content), meta,
        )  # fmt: skip

    def add_batch(self, turns: Any) -> list[str]:
        """Remember many turns at once: a list of `{session_id, role, content, metadata?,
        timestamp?}` (`timestamp`: when it was said, RFC 3339 or Unix seconds; default now, in
        list order). One embedding call and one write, so much faster than `add` in a loop;
        returns the ids in order. All or nothing: a bad turn stores none, and the error names
        it (`turn 3: content must be a non-empty string`)."""
        from llmspell.runtime.memory import NewTurn

        fn = "Memory.episodic.add_batch"
        if turns == {}:
            turns = []  # an empty Lua table
        if not isinstance(turns, list):
            raise ValidationError(
                f"{fn}: turns must be a list of {{session_id, role, content, metadata?, "
                f"timestamp?}}, got {type_name(turns)}"
            )
        batch = []
        for i, turn in enumerate(turns, start=1):
            if not isinstance(turn, dict):
                raise ValidationError(
                    f"{fn}: turn {i} must be a table {{session_id, role, content, metadata?, "
                    f"timestamp?}}, got {type_name(turn)}"
                )
            what = f"turn {i}"
            check_options(f"{fn}: {what}", turn, TURN_FIELDS)
            batch.append(
                NewTurn(
                    require_str(fn, f"{what} session_id", turn.get("session_id")),
                    require_str(fn, f"{what} role", turn.get("role")),
                    require_str(fn, f"{what} content", turn.get("content")),
                    _properties(fn, f"{what} metadata", turn.get("metadata")),
                    _time(fn, f"{what} timestamp", turn.get("timestamp")),
                )
            )
        return self._memory.episodic.add_batch(batch)

    def search(
        self,
        session_id: str,
        query: str,
        limit: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Entries ranked by relevance to `query` (meaning and keywords), best first, each with
        a `score` in [0, 1]. `session_id = ""` searches every session. Options: `min_score`,
        `role`, `since`, `until` (RFC 3339 or Unix seconds), `mode` ("hybrid" default,
        "vector", "keyword"), `rerank` (boolean: re-rank the best candidates word by word)."""
        fn = "Memory.episodic.search"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"min_score", "role", "since", "until", "mode", "rerank"})
        mode = opts.get("mode", "hybrid")
        if mode not in ("hybrid", "vector", "keyword"):
            raise ValidationError(f"{fn}: mode must be hybrid, vector or keyword, got {mode!r}")
        role = opts.get("role")
        entries = self._memory.episodic.search(
            require_str(fn, "session_id", session_id, allow_empty=True),
            require_str(fn, "query", query),
            10 if limit is None else require_int(fn, "limit", limit, minimum=1, maximum=1000),
            min_score=optional_number(fn, "min_score", opts.get("min_score")),
            role=None if role is None else require_str(fn, "role", role),
            since=_time(fn, "since", opts.get("since")),
            until=_time(fn, "until", opts.get("until")),
            mode=mode,
            rerank=_bool(fn, "rerank", opts.get("rerank", False)),
        )
        return [entry_record(e) for e in entries]

    def get(self, id: str) -> dict[str, Any]:
        """One entry by id; raises when there is none."""
        return entry_record(self._memory.episodic.get(require_str("Memory.episodic.get", "id", id)))

    def session(self, session_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        """A session's entries in the order they happened (the first `limit`)."""
        fn = "Memory.episodic.session"
        count = None if limit is None else require_int(fn, "limit", limit, minimum=0)
        entries = self._memory.episodic.session(require_str(fn, "session_id", session_id), count)
        return [entry_record(e) for e in entries]

    def delete(self, id: str) -> bool:
        """Delete one entry; true if it existed."""
        return self._memory.episodic.delete(require_str("Memory.episodic.delete", "id", id))

    def forget(self, options: dict[str, Any] | None = None) -> int:
        """Delete entries: of `session_id` (every session when absent) that happened before
        `before` (any time when absent); returns how many. `forget{}` forgets everything."""
        fn = "Memory.episodic.forget"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"session_id", "before"})
        session_id = opts.get("session_id")
        return self._memory.episodic.forget(
            None if session_id is None else require_str(fn, "session_id", session_id),
            _time(fn, "before", opts.get("before")),
        )


class SemanticApi(_MemoryPart):
    """Semantic memory: entities and relationships in valid time and transaction time."""

    api_name = "Memory.semantic"

    def add_entity(self, spec: dict[str, Any]) -> str:
        """`add_entity{name, type, properties?, valid_from?, valid_to?}` → entity id. The
        entity is true in the world from `valid_from` (default now) until `valid_to` (default
        open). A current entity of that name (any case) and type is not added twice: its id is
        returned and properties that differ are merged from `valid_from` on."""
        fn = "Memory.semantic.add_entity"
        spec = require_table(fn, "spec", spec)
        check_options(fn, spec, {"name", "type", "properties", "valid_from", "valid_to"})
        return self._memory.semantic.add_entity(
            require_str(fn, "name", spec.get("name")),
            require_str(fn, "type", spec.get("type")),
            _properties(fn, "properties", spec.get("properties")),
            _time(fn, "valid_from", spec.get("valid_from")),
            _time(fn, "valid_to", spec.get("valid_to")),
        )

    def update_entity(
        self, id: str, properties: dict[str, Any], options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Merge `properties` into the entity from `valid_from` (option; default now) on;
        returns the new version. Earlier versions stay in `history`; a `valid_from` in the past
        corrects what was true then (seen by lookups with `known_at` after the correction)."""
        fn = "Memory.semantic.update_entity"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"valid_from"})
        version = self._memory.semantic.update_entity(
            require_str(fn, "id", id),
            _properties(fn, "properties", properties),
            _time(fn, "valid_from", opts.get("valid_from")),
        )
        return entity_record(version)

    def add_relationship(self, spec: dict[str, Any]) -> str:
        """`add_relationship{from, to, type, properties?, valid_from?, valid_to?}` → id; both
        entities must exist."""
        fn = "Memory.semantic.add_relationship"
        spec = require_table(fn, "spec", spec)
        check_options(fn, spec, {"from", "to", "type", "properties", "valid_from", "valid_to"})
        return self._memory.semantic.add_relationship(
            require_str(fn, "from", spec.get("from")),
            require_str(fn, "to", spec.get("to")),
            require_str(fn, "type", spec.get("type")),
            _properties(fn, "properties", spec.get("properties")),
            _time(fn, "valid_from", spec.get("valid_from")),
            _time(fn, "valid_to", spec.get("valid_to")),
        )

    def get_entity(self, id: str, options: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The entity as true at `as_of` (valid time) per what was recorded by `known_at`
        (transaction time), both defaulting to now; nil when it was not valid then. Raises for
        an id that was never recorded."""
        fn = "Memory.semantic.get_entity"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"as_of", "known_at"})
        entity = self._memory.semantic.get_entity(
            require_str(fn, "id", id),
            _time(fn, "as_of", opts.get("as_of")),
            _time(fn, "known_at", opts.get("known_at")),
        )
        return None if entity is None else entity_record(entity)

    def query(self, filters: Any = None, limit: int | None = None) -> list[dict[str, Any]]:
        """`query{type?, name?, properties?, as_of?, known_at?, limit?}`: entities matching
        exactly (name ignores case), by name. `query(text, limit?)`: entities whose name, type
        or property values match the words of `text`, best first, with a `score`."""
        fn = "Memory.semantic.query"
        if isinstance(filters, str):
            count = 10 if limit is None else require_int(fn, "limit", limit, minimum=1)
            return [
                {**entity_record(entity), "score": score}
                for entity, score in self._memory.semantic.search(filters, count)
            ]
        if limit is not None:
            raise ValidationError(f"{fn}: limit goes inside the filter table: query{{limit=...}}")
        opts = require_table(fn, "filters", filters)
        check_options(fn, opts, {"type", "name", "properties", "as_of", "known_at", "limit"})
        wanted = opts.get("limit")
        entities = self._memory.semantic.query(
            None if opts.get("type") is None else require_str(fn, "type", opts["type"]),
            None if opts.get("name") is None else require_str(fn, "name", opts["name"]),
            _properties(fn, "properties", opts.get("properties")),
            _time(fn, "as_of", opts.get("as_of")),
            _time(fn, "known_at", opts.get("known_at")),
            None if wanted is None else require_int(fn, "limit", wanted, minimum=0),
        )
        return [entity_record(e) for e in entities]

    def neighbors(self, id: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """`{nodes, edges}` reachable from the entity within `depth` hops (1-6, default 1),
        following edges `direction` "out" (default), "in" or "both", of the given `types`
        only, valid at `as_of` / known at `known_at` (default now). `nodes` (each with its
        `depth`) excludes the start entity."""
        fn = "Memory.semantic.neighbors"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"depth", "direction", "types", "as_of", "known_at"})
        direction = opts.get("direction", "out")
        if direction not in ("out", "in", "both"):
            raise ValidationError(f"{fn}: direction must be out, in or both, got {direction!r}")
        types = opts.get("types")
        if types is not None:
            if isinstance(types, str):
                types = [types]
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                raise ValidationError(f"{fn}: types must be a list of strings")
        result = self._memory.semantic.neighbors(
            require_str(fn, "id", id),
            require_int(fn, "depth", opts.get("depth", 1), minimum=1, maximum=6),
            direction,
            types,
            _time(fn, "as_of", opts.get("as_of")),
            _time(fn, "known_at", opts.get("known_at")),
        )
        return {
            "nodes": [{**entity_record(node), "depth": depth} for node, depth in result.nodes],
            "edges": [edge_record(edge) for edge in result.edges],
        }

    def history(self, id: str) -> list[dict[str, Any]]:
        """Every stored version of the entity, newest `recorded_at` first:
        `{properties, valid_from, valid_to, recorded_at, superseded_at, ...}`."""
        fn = "Memory.semantic.history"
        return [entity_record(v) for v in self._memory.semantic.history(require_str(fn, "id", id))]

    def delete_entity(self, id: str) -> bool:
        """Close the entity (and its relationships) in valid time now; history is kept.
        Returns false when it was already closed."""
        fn = "Memory.semantic.delete_entity"
        return self._memory.semantic.delete_entity(require_str(fn, "id", id))


class ProceduralApi(_MemoryPart):
    """Procedural memory: which action worked for which trigger."""

    api_name = "Memory.procedural"

    def record(self, spec: dict[str, Any]) -> dict[str, Any]:
        """`record{trigger, action, outcome="success"|"failure", context?}` → the pattern
        `{id, trigger, action, successes, failures, success_rate, confidence, last_seen, ...}`."""
        fn = "Memory.procedural.record"
        spec = require_table(fn, "spec", spec)
        check_options(fn, spec, {"trigger", "action", "outcome", "context"})
        context = spec.get("context")
        pattern = self._memory.procedural.record(
            require_str(fn, "trigger", spec.get("trigger")),
            require_str(fn, "action", spec.get("action")),
            spec.get("outcome", "success"),
            None if context is None else ensure_data(fn, "context", context),
        )
        return pattern_record(pattern)

    def suggest(self, trigger: str, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The best actions for `trigger`, ranked by `confidence` (the lower bound of the
        success rate given how often it was seen: one success is not 100 %). Options:
        `min_success_rate` (compared with `confidence`, default 0), `limit` (default 5)."""
        fn = "Memory.procedural.suggest"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"min_success_rate", "limit"})
        minimum = optional_number(fn, "min_success_rate", opts.get("min_success_rate"))
        patterns = self._memory.procedural.suggest(
            require_str(fn, "trigger", trigger),
            0.0 if minimum is None else minimum,
            require_int(fn, "limit", opts.get("limit", 5), minimum=1),
        )
        return [pattern_record(p) for p in patterns]

    def list(self, options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """`list{min_frequency?, limit?}`: patterns seen at least `min_frequency` times, most
        seen first."""
        fn = "Memory.procedural.list"
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"min_frequency", "limit"})
        limit = opts.get("limit")
        patterns = self._memory.procedural.list(
            require_int(fn, "min_frequency", opts.get("min_frequency", 0), minimum=0),
            None if limit is None else require_int(fn, "limit", limit, minimum=0),
        )
        return [pattern_record(p) for p in patterns]

    def forget(self, trigger: str, action: str | None = None) -> int:
        """Delete what was recorded for `trigger` (only for `action` when given); returns how
        many patterns went. `forget("deploy")` starts the trigger's record over."""
        fn = "Memory.procedural.forget"
        return self._memory.procedural.forget(
            require_str(fn, "trigger", trigger),
            None if action is None else require_str(fn, "action", action),
        )


class MemoryApi(ApiNamespace):
    """Episodic, semantic (bi-temporal graph) and procedural memory, and consolidation."""

    api_name = "Memory"

    def __init__(self, ctx: ApiContext) -> None:
        super().__init__(ctx)
        self.episodic = EpisodicApi(ctx)
        self.semantic = SemanticApi(ctx)
        self.procedural = ProceduralApi(ctx)

    @property
    def _memory(self) -> MemoryManager:
        return _manager(self._ctx)

    def consolidate(self, options: Any = None, force: Any = None) -> dict[str, Any]:
        """Turn unprocessed episodic entries (of `session_id`, or all) into entities, properties
        and relationships. `consolidate{session_id?, mode?, dry_run?}` or, as in rs-llmspell,
        `consolidate(session_id?, force?)`: consolidation always runs now, so `force` (a
        boolean) changes nothing. `mode`: "rules" (offline, default) or "llm" (asks the model
        `memory.llm_model` names, e.g. "openai/gpt-4o-mini", for Mem0-style ADD / UPDATE /
        DELETE / NOOP decisions as JSON; a reply that is not valid JSON is asked for again
        once, then reported);
        `dry_run`: report the decisions without writing. Returns `{entries_processed,
        entities_added, entities_updated, entities_deleted, relationships_added, skipped,
        duration_ms, decisions}`."""
        fn = "Memory.consolidate"
        if isinstance(options, str) or (options is None and force is not None):
            _bool(fn, "force", force)
            options = {} if options is None else {"session_id": options}
        elif force is not None:
            raise ValidationError(
                f"{fn}: give consolidate{{session_id?, mode?, dry_run?}} or "
                f"consolidate(session_id?, force?), not an options table and force"
            )
        opts = require_table(fn, "options", options)
        check_options(fn, opts, {"session_id", "mode", "dry_run"})
        session_id = opts.get("session_id")
        report = self._memory.consolidate(
            None if session_id is None else require_str(fn, "session_id", session_id),
            require_str(fn, "mode", opts.get("mode", "rules")),
            _bool(fn, "dry_run", opts.get("dry_run")),
            self._ctx.stop_requested,
        )
        return {
            "entries_processed": report.entries_processed,
            "entities_added": report.entities_added,
            "entities_updated": report.entities_updated,
            "entities_deleted": report.entities_deleted,
            "relationships_added": report.relationships_added,
            "relationships_closed": report.relationships_closed,
            "skipped": report.skipped,
            "duration_ms": report.duration_ms,
            "dry_run": report.dry_run,
            "mode": report.mode,
            "decisions": [d.as_dict() for d in report.decisions],
        }

    def stats(self) -> dict[str, Any]:
        """`{episodic_count, semantic_entities, semantic_relationships, procedural_patterns,
        sessions_with_unprocessed, embedding_model, backend}`, and rs-llmspell's
        `semantic_count` (= semantic_entities), `has_episodic`, `has_semantic`,
        `has_consolidation` (all true: Memory is enabled when this runs)."""
        stats = self._memory.stats()
        stats["semantic_count"] = stats["semantic_entities"]
        stats.update(has_episodic=True, has_semantic=True, has_consolidation=True)
        return stats
