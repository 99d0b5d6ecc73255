"""`Template`: the built-in templates (`runtime/templates/`) — list, search, inspect, estimate
and execute them."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import ensure_data, optional_str, require_str, require_table
from llmspell.runtime.api.base import ApiNamespace, ValidationError

# The templates are imported on first use (`from llmspell.runtime.templates import ...` in the
# methods): every `llmspell exec` builds this global, few scripts run a template.
if TYPE_CHECKING:
    from llmspell.runtime.templates import Template


class TemplateApi(ApiNamespace):
    """Turn-key workflows: `Template.list(category?)`, `info(name, show_schema?)`,
    `execute(name, params)`, `search(query, category?)`, `schema(name)`,
    `estimate_cost(name, params)`. Templates call the model named by their `model` parameter
    (default `agents.default_model`; `"mock"` runs offline)."""

    api_name = "Template"

    def list(self, category: str | None = None) -> builtins.list[dict[str, Any]]:
        """Templates (of `category`: research, chat, analysis, codegen, document, workflow),
        each `{name, id, category, description, version, tags, requires}`."""
        from llmspell.runtime.templates import TEMPLATES

        category = _category("Template.list", category)
        return [t.metadata() for t in TEMPLATES.values() if category in (None, t.category)]

    def info(self, name: str, show_schema: bool = False) -> dict[str, Any]:
        """`{metadata = {name, id, category, description, version, tags, requires}, schema?}`
        (`schema` as `Template.schema` gives it, with `show_schema = true`)."""
        template = _template("Template.info", name)
        if not isinstance(show_schema, bool):
            raise ValidationError("Template.info: show_schema must be a boolean")
        out: dict[str, Any] = {"metadata": template.metadata()}
        if show_schema:
            out["schema"] = template.schema.as_dict()
        return out

    def schema(self, name: str) -> dict[str, Any]:
        """`{parameters = {{name, param_type, description, required, default, constraints? =
        {min_value?, max_value?, min_length?, max_length?, pattern?, allowed_values?}}}}`."""
        return _template("Template.schema", name).schema.as_dict()

    def search(self, query: str, category: str | None = None) -> builtins.list[dict[str, Any]]:
        """Templates whose name, description or tags contain `query` (any case), optionally
        of one category; each as `Template.list` gives it."""
        from llmspell.runtime.templates import TEMPLATES

        text = require_str("Template.search", "query", query).lower()
        category = _category("Template.search", category)
        return [
            t.metadata()
            for t in TEMPLATES.values()
            if category in (None, t.category)
            and any(text in s.lower() for s in (t.name, t.description, *t.tags))
        ]

    def execute(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a template with `params` checked against its schema (an unknown, missing or
        out-of-range parameter is an error naming it). Returns `{success, result, artifacts =
        {{filename, artifact_type, content, metadata}}, metadata = {template_id,
        template_version, execution_id, started_at, completed_at, model, extra}, metrics =
        {duration_ms, tokens_used, prompt_tokens, completion_tokens, cost_usd, api_calls},
        error}`; a failure while running raises."""
        from llmspell.runtime.templates import run_template

        template = _template("Template.execute", name)
        checked = self._checked(template, params)
        return run_template(template, checked, self._ctx.infrastructure, self._ctx.stop_requested)

    def estimate_cost(self, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """`{estimated_tokens, estimated_cost_usd, estimated_duration_ms, model_calls,
        confidence = "low"}` for these parameters: tokens from their words and the model calls
        the template makes; cost 0 on a local provider (mock, ollama) and nil elsewhere
        (llmspell has no price table); duration nil (it depends on the server)."""
        from llmspell.runtime.templates import estimate

        template = _template("Template.estimate_cost", name)
        checked = self._checked(template, params, fn="Template.estimate_cost")
        return estimate(template, checked, self._free(checked.get("model")))

    def _checked(
        self, template: Template, params: Any, fn: str = "Template.execute"
    ) -> dict[str, Any]:
        params = require_table(fn, "params", params)
        params = ensure_data(fn, "params", params)
        return template.schema.validate(fn, params)

    def _free(self, model: str | None) -> bool | None:
        from llmspell.runtime.providers import ProviderManager
        from llmspell.runtime.templates.run import FREE_PROVIDER_TYPES

        model = model or self._ctx.config.agents.default_model
        if not model:
            return None
        provider, _ = self._ctx.infrastructure.get(ProviderManager).resolve(model)
        return provider.config.type in FREE_PROVIDER_TYPES


def _template(fn: str, name: Any) -> Template:
    from llmspell.runtime.templates import TEMPLATES

    text = require_str(fn, "name", name)
    template = TEMPLATES.get(text)
    if template is None:
        raise ValidationError(
            f"{fn}: no template {text!r}; templates: {', '.join(sorted(TEMPLATES))}"
        )
    return template


def _category(fn: str, category: Any) -> str | None:
    from llmspell.runtime.templates import CATEGORIES

    text = optional_str(fn, "category", category)
    if text is not None and text not in CATEGORIES:
        raise ValidationError(
            f"{fn}: category must be one of {', '.join(CATEGORIES)}, got {text!r}"
        )
    return text
