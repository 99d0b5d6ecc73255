"""Consolidation: unprocessed episodic entries become entities, properties and relationships.

Both modes produce the same decisions, `ADD` / `UPDATE` / `DELETE` / `NOOP`, which one
`Consolidation` applies to the semantic graph (or only reports, with `dry_run`):
- `rules` (offline, deterministic): `llmspell.runtime.memory.rules` extracts facts; a fact that
  matches what the graph holds is NOOP, a changed single-valued fact is an UPDATE from its valid
  time (the old value stays in history), a new employer closes the old `works_at` (DELETE) and
  adds the new one (ADD).
- `llm`: a provider callable receives a prompt (existing facts + new entries) and returns JSON
  text; it must match `DECISIONS_SCHEMA` (checked with jsonschema) or nothing is applied.
Entries are marked processed afterwards (not in a dry run), so a second run finds nothing to do.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from llmspell.runtime.errors import InvalidArgument, ServiceError
from llmspell.runtime.memory.episodic import EpisodicEntry, EpisodicMemory
from llmspell.runtime.memory.rules import Fact, extract_facts, sentences_of, speaker_of
from llmspell.runtime.memory.semantic import SemanticMemory

LlmProvider = Callable[[str], str]
MODES = ("rules", "llm")
SINGLE_VALUED_RELATIONSHIPS = {"works_at"}

_ENTITY_REF = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
    },
    "additionalProperties": False,
}
DECISIONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["decisions"],
    "additionalProperties": False,
    "properties": {
        "decisions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["op", "entity"],
                "additionalProperties": False,
                "properties": {
                    "op": {"enum": ["ADD", "UPDATE", "DELETE", "NOOP"]},
                    "entity": _ENTITY_REF,
                    "properties": {"type": "object"},
                    "relationship": {
                        "type": "object",
                        "required": ["type", "to"],
                        "additionalProperties": False,
                        "properties": {
                            "type": {"type": "string", "minLength": 1},
                            "to": _ENTITY_REF,
                        },
                    },
                    "valid_from": {"type": "string"},
                    "reason": {"type": "string"},
                },
            },
        }
    },
}

LLM_PROMPT = """You maintain a knowledge graph of entities (name, type, properties) and
relationships. Compare the NEW CONVERSATION ENTRIES with the EXISTING FACTS and answer with JSON
only, of the form {{"decisions": [...]}}. Each decision is
{{"op": "ADD"|"UPDATE"|"DELETE"|"NOOP", "entity": {{"name": ..., "type": ...}},
  "properties": {{...}}?, "relationship": {{"type": ..., "to": {{"name": ..., "type": ...}}}}?,
  "valid_from": "<RFC 3339 time>"?, "reason": "..."?}}
ADD a new entity or relationship; UPDATE changed properties of an existing entity; DELETE an
entity or relationship that stopped being true; NOOP when nothing changes.

EXISTING FACTS:
{facts}

NEW CONVERSATION ENTRIES:
{entries}
"""


RETRY_NOTE = """

Your previous reply could not be used: {error}.
Reply again with the JSON object only, exactly in the form described above.
"""


@dataclass
class Decision:
    """One change to the graph (or NOOP), with the entry it came from."""

    op: str
    entity: dict[str, str]
    properties: dict[str, Any] = field(default_factory=dict)
    relationship: dict[str, Any] | None = None
    valid_from: datetime | None = None
    reason: str = ""
    entry_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "entity": dict(self.entity)}
        if self.properties:
            out["properties"] = dict(self.properties)
        if self.relationship is not None:
            out["relationship"] = self.relationship
        if self.valid_from is not None:
            from llmspell.runtime.times import format_time

            out["valid_from"] = format_time(self.valid_from)
        if self.reason:
            out["reason"] = self.reason
        if self.entry_id:
            out["entry_id"] = self.entry_id
        return out


@dataclass
class ConsolidationReport:
    entries_processed: int = 0
    entities_added: int = 0
    entities_updated: int = 0
    entities_deleted: int = 0
    relationships_added: int = 0
    relationships_closed: int = 0
    skipped: int = 0
    duration_ms: float = 0.0
    dry_run: bool = False
    mode: str = "rules"
    decisions: list[Decision] = field(default_factory=list)


class _Graph:
    """The graph as consolidation sees it: reads through to semantic memory plus, in a dry run,
    the changes decided so far (nothing is written)."""

    def __init__(self, semantic: SemanticMemory, dry_run: bool) -> None:
        self.semantic = semantic
        self.dry_run = dry_run
        self._entities: dict[tuple[str, str], dict[str, Any]] = {}
        self._targets: dict[tuple[str, str, str], str | None] = {}

    def entity(self, name: str, type_: str) -> dict[str, Any] | None:
        key = (name.lower(), type_)
        if key in self._entities:
            return self._entities[key]
        found = self.semantic.find_one(name, type_)
        if found is None:
            return None
        self._entities[key] = {"id": found.id, "properties": dict(found.properties)}
        return self._entities[key]

    def add_entity(
        self, name: str, type_: str, properties: dict[str, Any], at: datetime | None
    ) -> None:
        entity_id = "" if self.dry_run else self.semantic.add_entity(name, type_, properties, at)
        self._entities[(name.lower(), type_)] = {"id": entity_id, "properties": dict(properties)}

    def update(
        self, name: str, type_: str, properties: dict[str, Any], at: datetime | None
    ) -> None:
        entity = self.entity(name, type_)
        assert entity is not None
        if not self.dry_run:
            self.semantic.update_entity(entity["id"], properties, at)
        entity["properties"].update(properties)

    def delete_entity(self, name: str, type_: str, at: datetime | None) -> bool:
        entity = self.entity(name, type_)
        if entity is None:
            return False
        if not self.dry_run:
            self.semantic.delete_entity(entity["id"], at)
        self._entities.pop((name.lower(), type_), None)
        return True

    def target(self, name: str, type_: str, relation: str) -> str | None:
        """The name of what the entity's single current `relation` points to."""
        key = (name.lower(), type_, relation)
        if key in self._targets:
            return self._targets[key]
        entity = self.entity(name, type_)
        target = None
        if entity is not None and entity["id"]:
            for edge in self.semantic.relationships(entity["id"], "out", relation):
                found = self.semantic.get_entity(edge.to_id)
                target = found.name if found is not None else None
        self._targets[key] = target
        return target

    def relate(
        self, name: str, type_: str, relation: str, to: dict[str, str], at: datetime | None
    ) -> None:
        if not self.dry_run:
            source, target = self.entity(name, type_), self.entity(to["name"], to["type"])
            assert source is not None and target is not None
            self.semantic.add_relationship(source["id"], target["id"], relation, {}, at)
        self._targets[(name.lower(), type_, relation)] = to["name"]

    def unrelate(
        self, name: str, type_: str, relation: str, to_name: str, at: datetime | None
    ) -> int:
        closed = 0
        entity = self.entity(name, type_)
        if entity is not None and entity["id"] and not self.dry_run:
            for edge in self.semantic.relationships(entity["id"], "out", relation):
                found = self.semantic.get_entity(edge.to_id)
                if found is not None and found.name.lower() == to_name.lower():
                    closed += int(self.semantic.close_relationship(edge.id, at))
        elif self.dry_run:
            closed = 1
        self._targets[(name.lower(), type_, relation)] = None
        return closed


class Consolidation:
    """Turns unprocessed episodic entries into graph changes."""

    def __init__(self, episodic: EpisodicMemory, semantic: SemanticMemory) -> None:
        self.episodic = episodic
        self.semantic = semantic

    def run(
        self,
        session_id: str | None = None,
        mode: str = "rules",
        dry_run: bool = False,
        llm: LlmProvider | None = None,
    ) -> ConsolidationReport:
        """Consolidate; `llm` answers the prompts of mode "llm"."""
        if mode not in MODES:
            raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        provider = llm if mode == "llm" else None
        if mode == "llm" and provider is None:
            raise ServiceError(
                "mode 'llm' needs an LLM provider and none is configured in this runtime; "
                "use mode 'rules' (offline) or set memory.llm_model (or agents.default_model) "
                "to a 'provider/model' of [providers]"
            )
        started = time.perf_counter()
        entries = self.episodic.unprocessed(session_id or None)
        report = ConsolidationReport(dry_run=dry_run, mode=mode)
        graph = _Graph(self.semantic, dry_run)
        decisions_of: Callable[[EpisodicEntry, _Graph, str | None], Iterable[list[Decision]]]
        if mode == "rules":
            decisions_of = self._rules_decisions
        else:
            assert provider is not None
            decisions_of = self._llm_decisions(provider, entries)
        speakers: dict[str, str | None] = {}
        for entry in entries:
            if entry.session_id not in speakers:
                speakers[entry.session_id] = speaker_of(
                    [s for e in self.episodic.session(entry.session_id) if e.role == "user"
                     for s in sentences_of(e.content)]
                )  # fmt: skip
            changed = False
            for step in decisions_of(entry, graph, speakers[entry.session_id]):
                for decision in step:
                    self._apply(decision, graph, report)
                    changed = changed or decision.op != "NOOP"
                report.decisions.extend(step)
            if not changed:
                report.skipped += 1
            report.entries_processed += 1
        if not dry_run and entries:
            self.episodic.mark_processed(entries)
        report.duration_ms = (time.perf_counter() - started) * 1000
        return report

    # -- rules mode ------------------------------------------------------------------------

    def _rules_decisions(
        self, entry: EpisodicEntry, graph: _Graph, speaker: str | None
    ) -> Iterator[list[Decision]]:
        """One list of decisions per fact; each list is applied before the next is decided."""
        for fact in extract_facts(entry.content, speaker, first_person=entry.role == "user"):
            yield self._decide(fact, entry, graph)

    @staticmethod
    def _decide(fact: Fact, entry: EpisodicEntry, graph: _Graph) -> list[Decision]:
        at = fact.valid_from or entry.timestamp
        person = {"name": fact.subject, "type": "person"}

        def decision(op: str, **fields: Any) -> Decision:
            return Decision(op, person, reason=fact.sentence, entry_id=entry.id, **fields)

        existing = graph.entity(fact.subject, "person")
        if fact.kind == "entity":
            return [decision("NOOP" if existing else "ADD", valid_from=None if existing else at)]
        if fact.kind in ("property", "list"):
            current = existing["properties"].get(fact.key) if existing else None
            value: Any = fact.value
            if fact.kind == "list":
                values = list(current) if isinstance(current, list) else []
                value = values if fact.value in values else [*values, fact.value]
            if existing is None:
                return [decision("ADD", properties={fact.key: value}, valid_from=at)]
            if current == value:
                return [decision("NOOP", properties={fact.key: value})]
            return [decision("UPDATE", properties={fact.key: value}, valid_from=at)]
        target = {"name": fact.value, "type": fact.object_type or "thing"}
        relationship = {"type": fact.key, "to": target}
        current_target = graph.target(fact.subject, "person", fact.key) if existing else None
        if current_target is not None and current_target.lower() == fact.value.lower():
            return [decision("NOOP", relationship=relationship)]
        out = []
        if current_target is not None and fact.key in SINGLE_VALUED_RELATIONSHIPS:
            old = {"type": fact.key, "to": {"name": current_target, "type": target["type"]}}
            out.append(decision("DELETE", relationship=old, valid_from=at))
        out.append(decision("ADD", relationship=relationship, valid_from=at))
        return out

    # -- llm mode --------------------------------------------------------------------------

    def _llm_decisions(
        self, provider: LlmProvider, entries: list[EpisodicEntry]
    ) -> Callable[[EpisodicEntry, _Graph, str | None], Iterable[list[Decision]]]:
        """Ask the provider once for all entries; its decisions count for the first entry."""
        if not entries:
            return lambda entry, graph, speaker: []
        from llmspell.runtime.times import format_time

        facts = [
            {"name": e.name, "type": e.type, "properties": e.properties}
            for e in self.semantic.query(limit=200)
        ]
        listed = "\n".join(
            f"- [{format_time(e.timestamp)}] ({e.session_id}) {e.role}: {e.content}"
            for e in entries
        )
        prompt = LLM_PROMPT.format(facts=json.dumps(facts, ensure_ascii=False), entries=listed)
        try:
            decisions = parse_decisions(provider(prompt))
        except ServiceError as invalid:
            # Models slip (a prose preamble, a missing field): say what was wrong, once.
            first = str(invalid)
            try:
                decisions = parse_decisions(provider(prompt + RETRY_NOTE.format(error=first)))
            except ServiceError as second:
                raise ServiceError(
                    f"the LLM's consolidation reply was invalid twice (asked again after: "
                    f"{first}); the second reply: {second}"
                ) from None
        first = entries[0].id
        for d in decisions:
            d.entry_id = first
        return lambda entry, graph, speaker: [decisions] if entry.id == first else []

    # -- applying ----------------------------------------------------------------------------

    @staticmethod
    def _apply(decision: Decision, graph: _Graph, report: ConsolidationReport) -> None:
        name, type_ = decision.entity.get("name", ""), decision.entity.get("type", "")
        at, relationship = decision.valid_from, decision.relationship
        if decision.op == "NOOP" or not name:
            return
        if decision.op in ("ADD", "UPDATE"):
            if graph.entity(name, type_) is None:
                graph.add_entity(name, type_, decision.properties, at)
                report.entities_added += 1
            elif decision.properties:
                graph.update(name, type_, decision.properties, at)
                report.entities_updated += 1
            if relationship is not None:
                to = relationship["to"]
                if graph.entity(to["name"], to["type"]) is None:
                    graph.add_entity(to["name"], to["type"], {}, at)
                    report.entities_added += 1
                graph.relate(name, type_, relationship["type"], to, at)
                report.relationships_added += 1
        elif decision.op == "DELETE":
            if relationship is not None:
                report.relationships_closed += graph.unrelate(
                    name, type_, relationship["type"], relationship["to"]["name"], at
                )
            elif graph.delete_entity(name, type_, at):
                report.entities_deleted += 1


def parse_decisions(reply: str) -> list[Decision]:
    """The decisions of an LLM reply, validated against `DECISIONS_SCHEMA`."""
    import jsonschema

    from llmspell.runtime.times import parse_time

    text = reply.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ServiceError(f"the LLM's consolidation reply is not JSON ({exc})") from None
    try:
        jsonschema.validate(data, DECISIONS_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the reply"
        raise ServiceError(
            f"the LLM's consolidation reply does not match the decision schema at {where}: "
            f"{exc.message}"
        ) from None
    decisions = []
    for item in data["decisions"]:
        valid_from = None
        if "valid_from" in item:
            try:
                valid_from = parse_time("consolidate", "valid_from", item["valid_from"])
            except ValueError as exc:
                raise ServiceError(f"the LLM's consolidation reply: {exc}") from None
        decisions.append(
            Decision(
                op=item["op"],
                entity=dict(item["entity"]),
                properties=dict(item.get("properties") or {}),
                relationship=item.get("relationship"),
                valid_from=valid_from,
                reason=item.get("reason", ""),
            )
        )
    return decisions
