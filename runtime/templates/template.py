"""A template declared once: its metadata, parameters, how many model calls it makes (for
`Template.estimate_cost`) and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmspell.runtime.templates.run import TemplateRun
from llmspell.runtime.templates.schema import TemplateSchema

CATEGORIES = ("research", "chat", "analysis", "codegen", "document", "workflow")


@dataclass(frozen=True)
class Template:
    """A built-in template. `run(ctx, params)` returns the main result; it adds artifacts and
    `extra` metadata to `ctx`. `model_calls(params)` is how many model calls it will make,
    `words_out` the words it expects each to answer with."""

    name: str
    category: str
    description: str
    schema: TemplateSchema
    run: Callable[[TemplateRun, dict[str, Any]], Any]
    model_calls: Callable[[Mapping[str, Any]], int]
    words_out: int = 300
    version: str = "1.0.0"
    tags: tuple[str, ...] = ()

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "id": self.name,
            "category": self.category,
            "description": self.description,
            "version": self.version,
            "tags": list(self.tags),
            "requires": ["model"],
        }
