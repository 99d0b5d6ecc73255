"""The `citation-formatter` tool: bibliography entries (BibTeX text or a list of tables) as
citations in APA, MLA, Chicago, Harvard or IEEE style, a check of their fields, and the list
of styles."""

from __future__ import annotations

import re
from typing import Any

from llmspell.runtime.tools.registry import Tool, ToolFailure

MAX_ENTRIES = 1000
MAX_ENTRY_CHARS = 5 * 1024
STYLES = ("apa", "mla", "chicago", "harvard", "ieee")
REQUIRED_FIELDS = ("author", "title", "year")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "operation": {"enum": ["format_citation", "validate_bibliography", "list_styles"]},
        "input": {"type": ["string", "array", "object"]},
        "format": {"enum": ["bibtex", "table"]},
        "style": {"enum": list(STYLES)},
    },
    "required": ["operation"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {
                "properties": {"operation": {"enum": ["format_citation", "validate_bibliography"]}}
            },
            "then": {"required": ["input"]},
        }
    ],
}
_ENTRY = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.ASCII)
_FIELD = re.compile(r"\s*(\w+)\s*=\s*", re.ASCII)


def parse_bibtex(text: str) -> list[dict[str, str]]:
    """BibTeX entries as tables `{type, id, author, title, year, ...}`; ToolFailure naming the
    entry that cannot be read."""
    entries = []
    for match in _ENTRY.finditer(text):
        entry = {"type": match.group(1).lower(), "id": match.group(2)}
        pos = match.end()
        while True:
            field = _FIELD.match(text, pos)
            if field is None:
                break
            value, pos = _bibtex_value(text, field.end(), entry["id"])
            entry[field.group(1).lower()] = " ".join(value.split())
            rest = re.compile(r"\s*,?").match(text, pos)
            pos = rest.end() if rest else pos
        entries.append(entry)
        if len(entries) > MAX_ENTRIES:
            raise ToolFailure(f"a bibliography may have at most {MAX_ENTRIES} entries")
    if not entries:
        raise ToolFailure("input has no BibTeX entry (@type{key, field = {value}, ...})")
    return entries


def _bibtex_value(text: str, pos: int, entry: str) -> tuple[str, int]:
    if pos >= len(text):
        raise ToolFailure(f"entry {entry!r} ends inside a field")
    if text[pos] == "{":
        depth, start = 0, pos
        for i in range(pos, min(len(text), pos + MAX_ENTRY_CHARS)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start + 1 : i].replace("{", "").replace("}", ""), i + 1
        raise ToolFailure(
            f"entry {entry!r} has an unclosed {{ or a field over {MAX_ENTRY_CHARS} chars"
        )
    if text[pos] == '"':
        end = text.find('"', pos + 1)
        if end < 0:
            raise ToolFailure(f"entry {entry!r} has an unclosed quote")
        return text[pos + 1 : end], end + 1
    bare = re.compile(r"[\w.-]+").match(text, pos)
    if bare is None:
        raise ToolFailure(f"entry {entry!r} has a field value that cannot be read")
    return bare.group(0), bare.end()


def _entries(params: dict[str, Any]) -> list[dict[str, Any]]:
    value = params["input"]
    if isinstance(value, str):
        if params.get("format", "bibtex") != "bibtex":
            raise ToolFailure(
                "input text is read as BibTeX; pass a list of tables for format 'table'"
            )
        return parse_bibtex(value)
    items = [value] if isinstance(value, dict) else value
    if len(items) > MAX_ENTRIES:
        raise ToolFailure(f"a bibliography may have at most {MAX_ENTRIES} entries")
    entries = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ToolFailure(f"entry {i} must be a table of fields (author, title, year, ...)")
        entry = {str(k).lower(): str(v) for k, v in item.items()}
        if "date" in entry and "year" not in entry:
            entry["year"] = entry["date"][:4]
        entry.setdefault("id", str(i))
        entries.append(entry)
    return entries


def _authors(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """(family, given) of each author: "Smith, John and Doe, Jane" or "John Smith"."""
    people = []
    for name in re.split(r"\s+and\s+|;", entry.get("author", "")):
        name = name.strip()
        if not name:
            continue
        if "," in name:
            family, given = (part.strip() for part in name.split(",", 1))
        else:
            *given_parts, family = name.split()
            given = " ".join(given_parts)
        people.append((family, given))
    return people


def _initials(given: str) -> str:
    return " ".join(f"{part[0]}." for part in given.split() if part)


def _joined(names: list[str], last: str) -> str:
    """ "A", "A & B", "A, B & C" (with `last` as the final joiner)."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + last + names[-1]


def format_entry(entry: dict[str, Any], style: str) -> str:
    """One entry as a reference-list line in `style`."""
    people = _authors(entry)
    year = entry.get("year", "n.d.")
    title = entry.get("title", "")
    venue = entry.get("journal") or entry.get("booktitle") or entry.get("publisher") or ""
    if style in ("apa", "harvard"):
        names = [f"{family}, {_initials(given)}".rstrip(", ") for family, given in people]
        who = _joined(names, ", & " if style == "apa" else " and ")
        parts = [who, f"({year}).", f"{title}.", f"{venue}." if venue else ""]
        return " ".join(part for part in parts if part).replace("..", ".")
    if style == "ieee":
        who = ", ".join(f"{_initials(given)} {family}".strip() for family, given in people)
        parts = [f"{who}," if who else "", f'"{title},"', f"{venue}," if venue else "", f"{year}."]
        return " ".join(part for part in parts if part)
    # mla and chicago: the first author family-name first, the others given-name first.
    names = [f"{given} {family}".strip() for family, given in people]
    if people:
        names[0] = f"{people[0][0]}, {people[0][1]}".rstrip(", ")
    who = _joined(names, ", and ")
    if style == "mla":
        parts = [f"{who}." if who else "", f'"{title}."', f"{venue}," if venue else "", f"{year}."]
    else:
        parts = [f"{who}." if who else "", f"{year}.", f'"{title}."', f"{venue}." if venue else ""]
    return " ".join(part for part in parts if part).replace("..", ".")


def cite(params: dict[str, Any]) -> dict[str, Any]:
    """The result of one citation-formatter operation (see SCHEMA)."""
    operation = params["operation"]
    if operation == "list_styles":
        return {"styles": list(STYLES)}
    entries = _entries(params)
    if operation == "validate_bibliography":
        problems = [
            {"id": entry["id"], "missing": [f for f in REQUIRED_FIELDS if not entry.get(f)]}
            for entry in entries
            if any(not entry.get(f) for f in REQUIRED_FIELDS)
        ]
        return {"valid": not problems, "entries": len(entries), "problems": problems}
    style = params.get("style", "apa")
    references = sorted(format_entry(entry, style) for entry in entries)
    citations = [
        {"id": entry["id"], "text": _in_text(entry, style, i)} for i, entry in enumerate(entries, 1)
    ]
    return {"style": style, "citations": citations, "reference_list": references}


def _in_text(entry: dict[str, Any], style: str, number: int) -> str:
    if style == "ieee":
        return f"[{number}]"
    people = _authors(entry)
    family = people[0][0] if people else entry.get("title", "")[:20]
    if len(people) > 2:
        family += " et al."
    elif len(people) == 2:
        family += (" & " if style == "apa" else " and ") + people[1][0]
    if style == "mla":
        return f"({family})"
    return (
        f"({family}, {entry.get('year', 'n.d.')})"
        if style != "chicago"
        else f"({family} {entry.get('year', 'n.d.')})"
    )


TOOL = Tool(
    name="citation-formatter",
    description="Formats BibTeX or table bibliography entries as citations and a reference "
    "list (APA, MLA, Chicago, Harvard, IEEE), checks their fields, lists the styles",
    category="document",
    schema=SCHEMA,
    run=cite,
    tags=("citation", "academic", "offline"),
)
