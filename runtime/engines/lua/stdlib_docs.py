"""Lua 5.4's standard library documented one line a function (stdlib.txt), so `help(print)`
or `?string.format` says what the function does. Only what exists in the running Lua is
described: the sandbox removes some functions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lupa.lua54 as lupa

from llmspell.runtime.engines.lua.conversion import lua_text

LIBRARIES = {
    "coroutine": "Coroutines: create, resume, yield, wrap...",
    "debug": "The debug library (the sandbox keeps only debug.traceback).",
    "io": "Input and output: io.write and io.read go to the notebook or terminal.",
    "math": "Mathematical functions and constants.",
    "os": "Operating system facilities: time, date, clock, getenv...",
    "package": "How require finds and loads modules.",
    "string": "String functions; also methods of every string (s:upper()).",
    "table": "Functions on tables used as lists.",
    "utf8": "UTF-8 encoding support.",
}


_ENTRY = re.compile(r"^([\w.]+)(\([^)]*\))?  (.+)$")


def _parse(text: str) -> dict[str, tuple[str, str]]:
    entries = {}
    for line in text.strip().splitlines():
        if line.startswith("#"):
            continue
        m = _ENTRY.match(line)
        if m is None:
            raise ValueError(f"stdlib_docs: malformed entry {line!r}")
        name, signature, doc = m.group(1), m.group(2) or "", m.group(3)
        entries[name] = (f"{name}{signature}", doc)
    return entries


# beside this module (package data; not importlib.resources, whose zip support costs every
# start ~2 ms of imports for a package that is never zipped)
DOCS = _parse(Path(__file__).with_name("stdlib.txt").read_text("utf-8"))


class StdlibDocs:
    """The standard library of one Lua runtime, documented: its functions and tables are found
    by identity, so `help(print)` works and a user's own `print` is not mistaken for Lua's."""

    def __init__(self, lua: lupa.LuaRuntime, lua_globals: Any) -> None:
        # a Lua table keyed by the values themselves: lupa wraps each access in a new Python
        # object, so only Lua can tell that two of them are the same function
        self._names = lua.table()
        # Lua's own rawget, captured before any script runs: a library table a script gave a
        # metatable must not run its __index while help reads it
        self._rawget = lua_globals[b"rawget"]
        self._globals = lua_globals
        for name in [*DOCS, *LIBRARIES]:
            value = self._lookup(name)
            if lupa.lua_type(value) in ("function", "table"):
                self._names[value] = name.encode()

    def page(self, value: Any) -> str | None:
        """The documentation of a standard function or library table, None for other values."""
        if lupa.lua_type(value) not in ("function", "table"):
            return None
        name = self._names[value]
        if name is None:
            return None
        name = lua_text(name)
        if name in LIBRARIES:
            return self._library_page(name)
        signature, doc = DOCS[name]
        return f"{signature}\n\n{doc}\n(Lua 5.4 standard library)\n"

    def _lookup(self, dotted: str) -> Any:
        value = self._globals
        for part in dotted.split("."):
            if lupa.lua_type(value) != "table":
                return None
            value = self._rawget(value, part.encode())
        return value

    def _library_page(self, library: str) -> str:
        lines = [f"{library}\n\n{LIBRARIES[library]}\n"]
        for name, (signature, doc) in DOCS.items():
            if name.startswith(f"{library}.") and self._lookup(name) is not None:
                lines.append(f"  {signature}  {doc}")
        return "\n".join(lines) + "\n"
