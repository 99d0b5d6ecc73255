"""Built-in templates (the reference system's ten): turn-key workflows built from the model,
RAG, State, tools and local files. `TEMPLATES` lists them by name; `run_template` executes one
with checked parameters and returns the reference's `TemplateOutput`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from llmspell.runtime.templates.files import DATA_ANALYSIS, DOCUMENT_PROCESSOR, FILE_CLASSIFICATION
from llmspell.runtime.templates.orchestration import WORKFLOW_ORCHESTRATOR
from llmspell.runtime.templates.research import KNOWLEDGE_MANAGEMENT, RESEARCH_ASSISTANT
from llmspell.runtime.templates.run import TemplateRun
from llmspell.runtime.templates.template import CATEGORIES, Template
from llmspell.runtime.templates.writing import (
    CODE_GENERATOR,
    CODE_REVIEW,
    CONTENT_GENERATION,
    INTERACTIVE_CHAT,
)

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure

__all__ = ["CATEGORIES", "TEMPLATES", "Template", "TemplateRun", "run_template"]

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        RESEARCH_ASSISTANT,
        INTERACTIVE_CHAT,
        DATA_ANALYSIS,
        CODE_GENERATOR,
        DOCUMENT_PROCESSOR,
        WORKFLOW_ORCHESTRATOR,
        CODE_REVIEW,
        CONTENT_GENERATION,
        FILE_CLASSIFICATION,
        KNOWLEDGE_MANAGEMENT,
    )
}


def run_template(
    template: Template,
    params: dict[str, Any],
    infra: Infrastructure,
    stop_requested: Callable[[], bool],
) -> dict[str, Any]:
    """Run `template` with `params` already checked by its schema."""
    ctx = TemplateRun(
        template_id=template.name,
        version=template.version,
        infra=infra,
        model=params.get("model") or infra.config.agents.default_model,
        stop_requested=stop_requested,
    )
    return ctx.output(template.run(ctx, params))


def estimate(template: Template, params: Mapping[str, Any], free: bool | None) -> dict[str, Any]:
    """Tokens from the parameters' words plus what each model call answers; cost 0 on a local
    provider, unknown (nil) elsewhere (llmspell has no price table)."""
    words_in = sum(len(str(v).split()) for v in params.values() if v is not None)
    calls = template.model_calls(params)
    tokens = calls * (int(words_in * 1.3) + 60 + int(template.words_out * 1.3))
    return {
        "estimated_tokens": tokens,
        "estimated_cost_usd": 0.0 if free else None,
        "estimated_duration_ms": None,
        "model_calls": calls,
        "confidence": "low",
    }
