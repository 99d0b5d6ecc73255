"""Help, inspection and completion, written once for both engines: API docs found for a dotted
name or a value, the globals overview, value summaries and name completion. An engine supplies
only how to find, name and list its own values (`ScriptValues`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Protocol

from llmspell.runtime.api.base import ApiNamespace, ApiObject
from llmspell.runtime.api.docs import DocEntry, DocIndex
from llmspell.runtime.results import Completion


class ScriptValues(Protocol):
    """What introspection asks of an engine about the values a script can name."""

    name_chars: re.Pattern[str]  # the characters of a dotted name (inspect at the cursor)
    name_at_end: re.Pattern[str]  # a dotted name (group 1) and a trailing separator (group 2)
    separators: str  # between the parts of a dotted name
    private_prefix: str  # member names offered only once the user types this prefix
    inspect_names_value: bool  # an inspect page of a plain value starts with its name
    overview_note: str  # a line under help()'s list of globals about the language's own docs

    def lookup(self, dotted: str) -> Any:
        """The value a dotted name refers to; LookupError when it names nothing."""
        ...

    def api_name_of(self, value: Any) -> str | None:
        """The qualified API name of an API function, namespace or object ("State.save")."""
        ...

    def text_of(self, value: Any) -> str | None:
        """The text of a string value (so `help("State.save")` works), None for others."""
        ...

    def language_doc(self, value: Any) -> str | None:
        """The language's own documentation of a value (Lua's standard library, a Python
        docstring), None when it has none."""
        ...

    def summary(self, value: Any) -> str:
        """A short page on a value without documentation."""
        ...

    def global_names(self) -> Iterable[str]:
        """Every name completion offers without a dot: globals and keywords."""
        ...

    def member_names(self, value: Any, methods_only: bool) -> Iterable[str]:
        """The names completion offers after `value.` (or `value:` with `methods_only`)."""
        ...


class Introspection:
    """describe / describe_name / inspect / complete of one engine over the runtime's DocIndex."""

    def __init__(self, values: ScriptValues) -> None:
        self.docs = DocIndex({})
        self._values = values

    def describe(self, value: Any) -> str:
        """Help text for a value: the globals overview for nothing, the API docs of an API
        value (or of the API a string names), a summary otherwise."""
        if value is None:
            return f"{self.docs.overview()}\n{self._values.overview_note}\n"
        text = self._values.text_of(value)
        entry = self.docs.get(text) if text is not None else None
        entry = entry or self._entry_of_value(value)
        if entry is not None:
            return entry.page()
        if text is not None and self._values.name_at_end.fullmatch(text):
            # help("string.format"): the string names a value
            try:
                return self.describe(self._values.lookup(text))
            except LookupError:
                pass
        return self._values.language_doc(value) or self._values.summary(value)

    def describe_name(self, name: str) -> str:
        """Help text for a dotted name typed as `?name`."""
        entry = self._entry_of_name(name)
        if entry is not None:
            return entry.page()
        try:
            value = self._values.lookup(name)
        except LookupError:
            return self.describe_missing(name)
        return self.describe(value)

    def describe_missing(self, expression: str | None) -> str:
        """The page for help(x) when `x` names nothing: which part of what the script wrote
        does not exist, what comes close, and where to look."""
        seps = re.escape(self._values.separators)
        if not expression or not re.fullmatch(
            rf"[A-Za-z_]\w*(?:[{seps}][A-Za-z_]\w*)*", expression
        ):
            shown = f"{expression} is" if expression else "the argument is"
            return f"help: {shown} nil, so there is nothing to describe; help() lists the globals\n"
        parts = re.split(f"[{seps}]", expression)
        for i in range(len(parts) - 1, 0, -1):
            base = expression[: len(".".join(parts[:i]))]
            try:
                owner = self._values.lookup(base)
            except LookupError:
                continue
            names = self._values.member_names(owner, methods_only=False)
            hint = _did_you_mean(parts[i], names, expression[: len(base) + 1])
            return (
                f"{expression} does not exist: {base} has no field {parts[i]!r}.{hint}\n"
                f"help({base}) shows what it has.\n"
            )
        hint = _did_you_mean(parts[0], self._values.global_names(), "")
        return (
            f"{expression} does not exist: {parts[0]} is not defined.{hint}\n"
            "help() lists the globals.\n"
        )

    def inspect(self, code: str, cursor_pos: int) -> dict[str, str] | None:
        """The API docs of the name at the cursor, or a summary of the value it names."""
        name = name_at_cursor(code, cursor_pos, self._values.name_chars)
        if not name:
            return None
        entry = self._entry_of_name(name)
        if entry is not None:
            return {"text/plain": entry.page()}
        try:
            value = self._values.lookup(name)
        except LookupError:
            return None
        entry = self._entry_of_value(value)
        if entry is not None:
            return {"text/plain": entry.page()}
        doc = self._values.language_doc(value)
        if doc is not None:
            return {"text/plain": doc}
        page = self._values.summary(value)
        return {"text/plain": f"{name}\n{page}" if self._values.inspect_names_value else page}

    def complete(self, code: str, cursor_pos: int) -> Completion:
        """Like IPython: each match is the whole dotted name from `cursor_start`."""
        m = self._values.name_at_end.search(code[:cursor_pos])
        if m is None:
            return Completion([], cursor_pos, cursor_pos)
        text, start = m.group(1) + m.group(2), m.start()
        sep_index = max(text.rfind(sep) for sep in self._values.separators)
        if sep_index < 0:
            names = self._values.global_names()
            return Completion(sorted({n for n in names if n.startswith(text)}), start, cursor_pos)
        base, sep, partial = text[:sep_index], text[sep_index], text[sep_index + 1 :]
        try:
            target = self._values.lookup(base)
        except LookupError:
            return Completion([], start, cursor_pos)
        private = self._values.private_prefix
        shown = partial.startswith(private)
        matches = {
            f"{base}{sep}{n}"
            for n in self._values.member_names(target, methods_only=sep == ":")
            if n.startswith(partial) and (shown or not n.startswith(private))
        }
        return Completion(sorted(matches), start, cursor_pos)

    def _entry_of_name(self, name: str) -> DocEntry | None:
        """The API doc of a dotted name, also through a variable holding an API value (`t.stop`
        or `t:stop` of a Timer `t`)."""
        dotted = re.sub(f"[{re.escape(self._values.separators)}]", ".", name)
        entry = self.docs.get(dotted)
        base, _, attr = dotted.rpartition(".")
        if entry is not None or not base:
            return entry
        try:
            owner = self._values.api_name_of(self._values.lookup(base))
        except LookupError:
            return None
        return self.docs.get(f"{owner}.{attr}") if owner else None

    def _entry_of_value(self, value: Any) -> DocEntry | None:
        name = self._values.api_name_of(value)
        return self.docs.get(name) if name else None


def _did_you_mean(typed: str, names: Iterable[str], prefix: str) -> str:
    import difflib  # only a misspelt name needs it

    close = difflib.get_close_matches(typed, sorted(set(names)), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(prefix + c for c in close)}?" if close else ""


def api_name_of(value: Any) -> str | None:
    """The qualified API name of a Python API value: a namespace or object ("State", "Timer") or
    one of their bound methods ("State.save", or "display" for a global function)."""
    if isinstance(value, (ApiNamespace, ApiObject)):
        return value.api_name or None
    owner = getattr(value, "__self__", None)
    if isinstance(owner, (ApiNamespace, ApiObject)):
        return f"{owner.api_name}.{value.__name__}" if owner.api_name else value.__name__
    return None


def summary_page(kind: str, preview: str, size: str = "") -> str:
    """The page for a value without API docs: its type (and size), then its readable form."""
    return f"type: {kind}{size}\nvalue: {preview}\n"


def name_at_cursor(code: str, cursor_pos: int, name_chars: re.Pattern[str]) -> str:
    """The dotted name around `cursor_pos`, without leading/trailing separators."""
    start = cursor_pos
    while start > 0 and name_chars.match(code[start - 1]):
        start -= 1
    end = cursor_pos
    while end < len(code) and name_chars.match(code[end]):
        end += 1
    return code[start:end].strip(".:")
