"""The documentation of every script global, for `help()`, kernel inspect and completion."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterator, Mapping
from functools import cached_property
from types import FunctionType, MethodType
from typing import Any, NamedTuple

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    doc_of,
    public_functions,
    public_members,
    signature_of,
)


class DocEntry(NamedTuple):  # not a dataclass: making one costs every start ~0.5 ms
    qualified: str  # "State.save", "State", "display"
    kind: str  # "function" | "namespace"
    signature: str
    doc: str

    def page(self) -> str:
        return f"{self.signature}\n\n{self.doc}".rstrip() + "\n"


# Globals that are not API functions: the host sets them (`llmspell run f.lua a --k v`).
SCRIPT_ARGUMENTS = {
    "ARGS": "Script arguments: ARGS[0] the script, ARGS[1..n] positional, ARGS.k of --k v "
    "(empty in a kernel).",
    "arg": "The positional script arguments only (arg[1..n]; empty in a kernel).",
}


class DocIndex:
    """Qualified name → DocEntry for the globals a runtime installs."""

    def __init__(self, globals_: Mapping[str, Any]) -> None:
        self._globals = globals_  # read (and so built, when they are built lazily) on first use

    @cached_property
    def entries(self) -> dict[str, DocEntry]:
        """Built on first use (help, inspect, completion docs): every runtime start would
        otherwise pay for ~400 signatures that most runs never show."""
        self._entries: dict[str, DocEntry] = {}
        for name, value in self._globals.items():
            self._add(name, value)
        for cls in _api_object_classes(ApiObject):
            self._add_methods(cls)
        return self._entries

    def _add(self, qualified: str, value: Any) -> None:
        if isinstance(value, ApiNamespace):
            functions = dict(public_functions(value))
            summary = doc_of(type(value)).split("\n\n")[0] or f"The {qualified} API."
            listing = "\n".join(
                _listed(f"  {_function_entry(f'{qualified}.{n}', f).signature}  ", doc_of(f), 4)
                for n, f in functions.items()
            )
            self._entries[qualified] = DocEntry(
                qualified, "namespace", qualified, f"{summary}\n\nFunctions:\n{listing}"
            )
            for name, fn in functions.items():
                self._add_function(f"{qualified}.{name}", fn)
            for name, member in public_members(value):
                if isinstance(member, ApiNamespace):
                    self._add(f"{qualified}.{name}", member)
        elif callable(value):
            self._add_function(qualified, value)

    def _add_methods(self, cls: type[ApiObject]) -> None:
        """Methods of the objects API functions return (`Timer.stop`, `Stream.next`)."""
        if not cls.api_name:
            return
        for name in sorted(dir(cls)):
            attr = getattr(cls, name)
            if name.startswith("_") or not isinstance(attr, FunctionType):
                continue
            qualified = f"{cls.api_name}.{name}"
            if qualified not in self._entries:
                # bound to the class only so the signature leaves out `self`
                self._add_function(qualified, MethodType(attr, cls))

    def _add_function(self, qualified: str, fn: Callable[..., Any]) -> None:
        self._entries[qualified] = _function_entry(qualified, fn)

    def get(self, qualified: str) -> DocEntry | None:
        return self.entries.get(qualified)

    def overview(self) -> str:
        """The globals (entries without a dot) with the first line of their docs: `help()`."""
        lines = ["llmspell script globals (help(x) or ?x for details):", ""]
        for name in sorted(q for q in self.entries if "." not in q):
            lines.append(_listed(f"  {name:<12} ", self.entries[name].doc, 15))
        lines += [f"  {name:<12} {what}" for name, what in SCRIPT_ARGUMENTS.items()]
        return "\n".join(lines) + "\n"


# Every runtime documents the same API methods: their entries (inspect.signature is the cost)
# are made once per process. Keyed by the function itself, so a method bound to another object
# of the same class shares the entry.
_FUNCTION_ENTRIES: dict[tuple[str, Any], DocEntry] = {}


def _function_entry(qualified: str, fn: Callable[..., Any]) -> DocEntry:
    key = (qualified, getattr(fn, "__func__", fn))
    entry = _FUNCTION_ENTRIES.get(key)
    if entry is None:
        entry = DocEntry(qualified, "function", signature_of(qualified, fn), doc_of(fn))
        if hasattr(fn, "__func__"):  # plain functions (lambdas, callbacks) are not kept
            _FUNCTION_ENTRIES[key] = entry
    return entry


def _api_object_classes(base: type[ApiObject]) -> Iterator[type[ApiObject]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _api_object_classes(cls)


# A sentence ends at . ! or ? before a space, except in "e.g." and "i.e."
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)[.!?](?=\s|$)")
LISTING_WIDTH = 100


def first_sentence(text: str) -> str:
    """The first sentence of a docstring's first paragraph, on one line (a listing's summary:
    its first line stopped mid-sentence)."""
    paragraph = " ".join(text.strip().split("\n\n", 1)[0].split())
    end = _SENTENCE_END.search(paragraph)
    return paragraph if end is None else paragraph[: end.end()]


def _listed(head: str, doc: str, indent: int) -> str:
    """`head` and the doc's first sentence, wrapped to LISTING_WIDTH with continuation lines
    indented by `indent`."""
    return textwrap.fill(
        first_sentence(doc),
        LISTING_WIDTH,
        initial_indent=head,
        subsequent_indent=" " * indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


_HELP = re.compile(r"^\s*(?:\?\s*([A-Za-z_][\w.:]*)|([A-Za-z_][\w.:]*)\s*\?)\s*$")


def help_target(code: str) -> str | None:
    """The name in a cell that is only `?name` or `name?` (IPython-style help), else None."""
    m = _HELP.match(code)
    if m is None:
        return None
    return m.group(1) or m.group(2)


def markdown_reference(index: DocIndex) -> str:
    """The script API reference as Markdown (docs/reference/lua-api.md is generated from this)."""
    out = [
        "# Script API reference",
        "",
        "Generated from the docstrings of the API globals (`scripts/gen_api_reference.py`);",
        "the same text is what `help(x)`, `?x` and kernel inspect show.",
        "",
    ]
    entries = sorted(index.entries.values(), key=lambda e: e.qualified.lower())
    namespaces = [e for e in entries if e.kind == "namespace"]
    for ns in namespaces:
        out += [f"## {ns.qualified}", "", ns.doc.split("\n\nFunctions:")[0], ""]
        for entry in entries:
            if entry.kind == "function" and entry.qualified.rsplit(".", 1)[0] == ns.qualified:
                out += [f"### `{entry.signature}`", "", entry.doc or "(no documentation)", ""]
    functions = [e for e in entries if e.kind == "function" and "." not in e.qualified]
    if functions:
        out += ["## Global functions", ""]
        for entry in functions:
            out += [f"### `{entry.signature}`", "", entry.doc or "(no documentation)", ""]
    return "\n".join(out).rstrip() + "\n"
