"""IPython-style magics: finding them in a cell (`cells`), running them (`commands`: `%time`,
`%timeit`, `%who`, `%reset`, `%lsmagic`, `%config`, `!cmd`) and the workspace ones
(`workspace`: `%run`, `%load`, `%history`, `%env`, `%who_ls`)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from llmspell.runtime.magics.cells import CellMagic, Code, LineMagic, Part, Shell, cell_parts

if TYPE_CHECKING:
    from llmspell.runtime.magics.commands import Magics as Magics
    from llmspell.runtime.magics.commands import format_time as format_time

# imported on first use: a run whose cells have no magics never needs the commands
_LAZY = {"Magics": "commands", "format_time": "commands"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CellMagic", "Code", "LineMagic", "Magics", "Part", "Shell", "cell_parts", "format_time"]
