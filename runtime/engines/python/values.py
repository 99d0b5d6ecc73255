"""What introspection (help, inspect, completion) sees of the Python namespace."""

from __future__ import annotations

import builtins
import inspect
import keyword
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.base import (
    ApiNamespace,
    ApiObject,
    public_functions,
    public_members,
)
from llmspell.runtime.engines.introspection import Introspection, api_name_of, summary_page
from llmspell.runtime.engines.python.modules import MODULE_NAMES
from llmspell.runtime.results import (
    Completion,
)

if TYPE_CHECKING:
    pass


class PythonIntrospection(Introspection):
    """The shared introspection, plus module names in `import` lines."""

    def complete(self, code: str, cursor_pos: int) -> Completion:
        return MODULE_NAMES.complete(code, cursor_pos) or super().complete(code, cursor_pos)


class PythonValues:
    """The `ScriptValues` of the Python namespace (see runtime/engines/introspection.py)."""

    name_chars = re.compile(r"[A-Za-z0-9_.]")
    name_at_end = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\.?)$")
    separators = "."
    private_prefix = "_"
    inspect_names_value = False
    overview_note = "Python objects are documented too: help(len), help(str.split)."

    def __init__(self, namespace: dict[str, Any], format_value: Callable[[Any], str]) -> None:
        self._namespace = namespace
        self._format_value = format_value

    def lookup(self, dotted: str) -> Any:
        # getattr_static: inspecting a name must not run properties or __getattr__
        parts = dotted.split(".")
        if parts[0] in self._namespace:
            value = self._namespace[parts[0]]
        elif hasattr(builtins, parts[0]):
            value = getattr(builtins, parts[0])
        else:
            raise LookupError(dotted)
        for part in parts[1:]:
            try:
                value = inspect.getattr_static(value, part)
            except AttributeError:
                raise LookupError(dotted) from None
        return value

    def api_name_of(self, value: Any) -> str | None:
        return api_name_of(value)

    def text_of(self, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def language_doc(self, value: Any) -> str | None:
        doc = inspect.getdoc(value) if callable(value) else None
        if not doc:
            return None
        try:
            return f"{getattr(value, '__name__', '')}{inspect.signature(value)}\n\n{doc}\n"
        except (TypeError, ValueError):
            return f"{doc}\n"

    def summary(self, value: Any) -> str:
        return summary_page(type(value).__name__, self._format_value(value))

    def global_names(self) -> Iterable[str]:
        names = set(self._namespace) | set(dir(builtins)) | set(keyword.kwlist)
        return (n for n in names if not n.startswith("__"))

    def member_names(self, value: Any, methods_only: bool) -> Iterable[str]:
        if isinstance(value, (ApiNamespace, ApiObject)):
            # What scripts call, not the Python plumbing (`api_name`) the class carries.
            names = {n for n, _ in public_functions(value)}
            if isinstance(value, ApiNamespace):
                names |= {n for n, _ in public_members(value)}
            return names
        return dir(value)
