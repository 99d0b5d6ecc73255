"""IPython-style magics: finding them in a cell (`cells`), running them (`commands`: `%time`,
`%timeit`, `%who`, `%reset`, `%lsmagic`, `%config`, `!cmd`) and the workspace ones
(`workspace`: `%run`, `%load`, `%history`, `%env`, `%who_ls`)."""

from llmspell.runtime.magics.cells import CellMagic, Code, LineMagic, Part, Shell, cell_parts
from llmspell.runtime.magics.commands import Magics, format_time

__all__ = ["CellMagic", "Code", "LineMagic", "Magics", "Part", "Shell", "cell_parts", "format_time"]
