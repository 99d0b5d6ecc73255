"""`help(x)`: the signature and documentation of an API function, or a summary of a value."""

from __future__ import annotations

from typing import Any

from llmspell.runtime.api.base import ApiNamespace, raw_args, raw_of


class HelpFunction(ApiNamespace):
    """Holds the `help` global."""

    api_name = ""

    @raw_args("target")
    def help(self, target: Any = None) -> None:
        """Show the signature and documentation of an API function or table (`help(State.save)`,
        `help(State)`, `help("State.save")`), a summary of any other value, or with no argument
        the list of globals. In a notebook it opens the pager; `?State.save` does the same."""
        raw = raw_of(target)
        self._ctx.sink.page(self._ctx.describe(raw) or "")
