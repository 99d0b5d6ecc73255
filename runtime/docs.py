"""The documentation of every script global, for `help()`, kernel inspect and completion."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    doc_of,
    public_functions,
    public_members,
    signature_of,
)


@dataclass(frozen=True)
class DocEntry:
    qualified: str  # "State.save", "State", "display"
    kind: str  # "function" | "namespace"
    signature: str
    doc: str

    def page(self) -> str:
        return f"{self.signature}\n\n{self.doc}".rstrip() + "\n"


class DocIndex:
    """Qualified name → DocEntry for the globals a runtime installs."""

    def __init__(self, globals_: Mapping[str, Any], extra: Mapping[str, str] | None = None) -> None:
        self.entries: dict[str, DocEntry] = {}
        for name, value in globals_.items():
            self._add(name, value)
        for qualified, signature_and_doc in (extra or {}).items():
            signature, _, doc = signature_and_doc.partition("\n")
            self.entries[qualified] = DocEntry(qualified, "function", signature, doc.strip())

    def _add(self, qualified: str, value: Any) -> None:
        if isinstance(value, ApiNamespace):
            functions = dict(public_functions(value))
            summary = doc_of(type(value)).split("\n\n")[0] or f"The {qualified} API."
            listing = "\n".join(
                f"  {signature_of(f'{qualified}.{n}', f)}  {_first_line(doc_of(f))}"
                for n, f in functions.items()
            )
            self.entries[qualified] = DocEntry(
                qualified, "namespace", qualified, f"{summary}\n\nFunctions:\n{listing}"
            )
            for name, fn in functions.items():
                self._add_function(f"{qualified}.{name}", fn)
            for name, member in public_members(value):
                if isinstance(member, ApiNamespace):
                    self._add(f"{qualified}.{name}", member)
        elif callable(value):
            self._add_function(qualified, value)

    def _add_function(self, qualified: str, fn: Callable[..., Any]) -> None:
        self.entries[qualified] = DocEntry(
            qualified, "function", signature_of(qualified, fn), doc_of(fn)
        )

    def get(self, qualified: str) -> DocEntry | None:
        return self.entries.get(qualified)

    def overview(self, global_names: list[str]) -> str:
        lines = ["llmspell script globals (help(x) or ?x for details):", ""]
        for name in sorted(global_names):
            entry = self.entries.get(name)
            if entry is None:
                continue
            first = (
                entry.doc.split("\n", 1)[0]
                if entry.kind == "function"
                else _namespace_summary(entry)
            )
            lines.append(f"  {name:<12} {first}")
        return "\n".join(lines) + "\n"


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _namespace_summary(entry: DocEntry) -> str:
    return _first_line(entry.doc)


_HELP = re.compile(r"^\s*(?:\?\s*([A-Za-z_][\w.:]*)|([A-Za-z_][\w.:]*)\s*\?)\s*$")


def help_target(code: str) -> str | None:
    """The name in a cell that is only `?name` or `name?` (IPython-style help), else None."""
    m = _HELP.match(code)
    if m is None:
        return None
    return m.group(1) or m.group(2)
