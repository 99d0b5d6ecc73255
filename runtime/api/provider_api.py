"""`Provider`: the configured LLM providers — which there are, what they offer, whether they
can be used — and, for the offline `mock` provider, the replies it gives next."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import require_str, type_name
from llmspell.runtime.api.base import ApiNamespace, ValidationError
from llmspell.runtime.display import Records

if TYPE_CHECKING:
    from llmspell.runtime.providers import ProviderManager

PROVIDER_COLUMNS = ["name", "type", "enabled", "available", "model", "base_url", "api_key_env",
                    "builtin", "capabilities"]  # fmt: skip


class ProviderApi(ApiNamespace):
    """LLM providers from `[providers.<name>]` in the config (type openai, anthropic, ollama
    or mock), plus a built-in offline `mock`. Agents name one in their model:
    `"openai/gpt-4o-mini"`. Records never hold keys, only the variable a key is read from."""

    api_name = "Provider"

    @property
    def _providers(self) -> ProviderManager:
        from llmspell.runtime.providers import ProviderManager

        return self._ctx.infrastructure.get(ProviderManager)

    def list(self) -> list[dict[str, Any]]:
        """Every provider as `{name, type, enabled, available, model, base_url, api_key_env,
        builtin, capabilities}`, by name."""
        providers = self._providers
        return Records([providers.info(n) for n in providers.names()], PROVIDER_COLUMNS)

    def get(self, name: str) -> dict[str, Any] | None:
        """The record of provider `name` (as in `list()`), or nil when there is none."""
        providers = self._providers
        name = require_str("Provider.get", "name", name)
        return providers.info(name) if name in providers.names() else None

    def getCapabilities(self, name: str) -> dict[str, Any] | None:
        """`{supports_streaming, supports_tools, supports_multimodal, max_context_tokens,
        available_models}` of provider `name`, or nil when there is none."""
        record = self.get(name)
        return None if record is None else record["capabilities"]

    def isAvailable(self, name: str) -> bool:
        """Whether provider `name` is configured, enabled and has its API key (from its
        environment variable or `llmspell keys`); no request is made. A name that is not a
        string is an error, as in `get`."""
        return self._providers.is_available(require_str("Provider.isAvailable", "name", name))

    def script(self, name: str, replies: Any) -> int:
        """Queue the replies a `mock` provider gives next, in order: each a string (the text)
        or `{text?, tool_calls?={{name, arguments?}, ...}}`. Returns how many are queued."""
        from llmspell.runtime.providers.mock import MockProvider

        name = require_str("Provider.script", "name", name)
        provider = self._providers.get(name)
        if not isinstance(provider, MockProvider):
            raise ValidationError(
                f"Provider.script: provider {name!r} is of type {provider.config.type!r}; "
                "only mock providers take scripted replies"
            )
        if isinstance(replies, (str, dict)):
            replies = [replies]
        if not isinstance(replies, builtins.list):
            raise ValidationError(
                f"Provider.script: replies must be a list of replies, got {type_name(replies)}"
            )
        return provider.script(replies)

    def last_request(self, name: str) -> dict[str, Any] | None:
        """The last request this runtime sent to provider `name` — `{model, messages, tools,
        tool_choice, temperature, max_tokens}` — or nil: what the model was really asked."""
        request = self._providers.last_request(require_str("Provider.last_request", "name", name))
        return None if request is None else request.as_dict()
