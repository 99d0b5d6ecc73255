"""Completion of module names in `import` and `from ... import` lines of the Python engine,
as IPython offers it. Completing never imports anything: imports run code. Module lists are
found with pkgutil once and cached."""

from __future__ import annotations

import importlib.util
import pkgutil
import re
import sys
import threading
from types import ModuleType

from llmspell.runtime.results import Completion

_DOTTED = r"[A-Za-z_][\w.]*"
# `import a, b.c` / `from a.b` / `from a.b import x, y` — the part being typed is the last group
_IMPORT = re.compile(rf"^\s*import\s+(?:{_DOTTED}\s*,\s*)*({_DOTTED}|)$")
_FROM = re.compile(rf"^\s*from\s+({_DOTTED}|)$")
_IMPORT_LINE = re.compile(r"^\s*(?:import|from)\s")
_FROM_IMPORT = re.compile(rf"^\s*from\s+({_DOTTED})\s+import\s+\(?\s*(?:\w+\s*,\s*)*(\w*)$")


class ModuleNames:
    """The importable module names of this interpreter, found on first use and then cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._top: list[str] | None = None
        self._children: dict[str, list[str]] = {}

    def complete(self, code: str, cursor_pos: int) -> Completion | None:
        """Matches when the cursor is in a module name of an import line, else None."""
        line = code[:cursor_pos].rsplit("\n", 1)[-1]
        m = _IMPORT.match(line) or _FROM.match(line)
        if m is not None:
            typed = m.group(1)
            matches = [
                n for n in self.modules_under(typed.rpartition(".")[0]) if n.startswith(typed)
            ]
            return Completion(sorted(matches), cursor_pos - len(typed), cursor_pos)
        m = _FROM_IMPORT.match(line)
        if m is not None:
            module, typed = m.group(1), m.group(2)
            names = self.names_in(module)
            matches = [
                n for n in names if n.startswith(typed) and (typed[:1] == "_" or n[:1] != "_")
            ]
            return Completion(sorted(matches), cursor_pos - len(typed), cursor_pos)
        if _IMPORT_LINE.match(line):
            return Completion([], cursor_pos, cursor_pos)  # `import x as y`: a new name
        return None

    def modules_under(self, package: str) -> list[str]:
        """Dotted names of the modules in `package` ("" for the top level)."""
        if not package:
            return self._top_level()
        return [f"{package}.{name}" for name in self._submodules(package)]

    def _submodules(self, package: str) -> list[str]:
        """Submodules found on the package's path, and those imported already (`os.path` is
        not on a path: `os` is a module that sets it)."""
        prefix = f"{package}."
        loaded = {
            name[len(prefix) :]
            for name in list(sys.modules)
            if name.startswith(prefix) and "." not in name[len(prefix) :]
        }
        return sorted(loaded.union(self._found_submodules(package)))

    def names_in(self, module: str) -> list[str]:
        """What `from module import ...` can name: its submodules, and its attributes when it
        is imported already."""
        names = set(self._submodules(module))
        loaded = sys.modules.get(module)
        if isinstance(loaded, ModuleType):
            names |= set(getattr(loaded, "__all__", None) or dir(loaded))
        return sorted(names)

    def _top_level(self) -> list[str]:
        with self._lock:
            if self._top is None:
                found = {info.name for info in pkgutil.iter_modules()}
                self._top = sorted(found | set(sys.builtin_module_names))
            return self._top

    def _found_submodules(self, package: str) -> list[str]:
        with self._lock:
            cached = self._children.get(package)
        if cached is not None:
            return cached
        paths = _search_path(package)
        names = sorted(info.name for info in pkgutil.iter_modules(paths)) if paths else []
        with self._lock:
            self._children[package] = names
        return names


def _search_path(package: str) -> list[str] | None:
    loaded = sys.modules.get(package)
    if loaded is not None:
        return list(getattr(loaded, "__path__", None) or []) or None
    if "." in package:
        return None  # finding a submodule's spec imports its parent package
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.submodule_search_locations is None:
        return None
    return list(spec.submodule_search_locations)


MODULE_NAMES = ModuleNames()  # one per process: the installed modules do not differ by runtime
