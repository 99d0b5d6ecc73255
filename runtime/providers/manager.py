"""`ProviderManager`: the runtime's configured providers, how a model name finds one, where
API keys come from, and the one way a model call runs (on the event loop, waited for on the
script's thread so it can be interrupted)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from llmspell.runtime.config import DEFAULT_KEY_ENV
from llmspell.runtime.errors import InvalidArgument, NotFound
from llmspell.runtime.providers.base import ChatProvider, MissingApiKey, ProviderError
from llmspell.runtime.providers.calls import EventLoopThread, PendingCall
from llmspell.storage.redaction import redact_secrets

if TYPE_CHECKING:
    from llmspell.runtime.config import LLMSpellConfig, ProviderConfig
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.providers.messages import ChatRequest, ChatResponse

# Present in every runtime unless the config defines its own provider of this name.
BUILTIN_MOCK = "mock"


class StoredKeys(Protocol):
    """Keys kept for services (the key store of `llmspell keys`)."""

    def secret(self, service: str) -> str | None:
        """The key of `service`, or None; counts as a use."""
        ...

    def has(self, service: str) -> bool:
        """Whether `service` has a usable key, without using it."""
        ...


def provider_class(type_: str) -> type[ChatProvider]:
    """The implementation of a provider type (its vendor client is imported on first use)."""
    if type_ == "mock":
        from llmspell.runtime.providers.mock import MockProvider

        return MockProvider
    if type_ in ("openai", "ollama"):
        from llmspell.runtime.providers.openai_compat import OllamaProvider, OpenAIProvider

        return OllamaProvider if type_ == "ollama" else OpenAIProvider
    if type_ == "anthropic":
        from llmspell.runtime.providers.anthropic import AnthropicProvider

        return AnthropicProvider
    raise InvalidArgument(f"unknown provider type {type_!r}")


class ProviderManager:
    """Providers of one runtime, built from `[providers.<name>]` (plus the built-in `mock`)."""

    def __init__(
        self, config: LLMSpellConfig, stored_keys: Callable[[], StoredKeys] | None = None
    ) -> None:
        self.config = config
        self._stored_keys = stored_keys  # opens storage on first use
        # the schema (pydantic) is imported when a runtime first needs its providers
        from llmspell.runtime.config.models import ProviderConfig

        self._configs: dict[str, ProviderConfig] = {BUILTIN_MOCK: ProviderConfig(type="mock")}
        self._configs.update(config.providers)
        self._providers: dict[str, ChatProvider] = {}
        self._last: dict[str, ChatRequest] = {}
        self._lock = threading.Lock()
        self.loop = EventLoopThread()

    @classmethod
    def from_infrastructure(cls, infra: Infrastructure) -> ProviderManager:
        def stored_keys() -> StoredKeys:
            from llmspell.runtime.keys import KeyStore

            return infra.get(KeyStore)

        return cls(infra.config, stored_keys)

    # --- the catalogue ----------------------------------------------------------------------

    def names(self) -> list[str]:
        """Every provider's name, sorted (disabled ones included)."""
        return sorted(self._configs)

    def config_of(self, name: str) -> ProviderConfig:
        config = self._configs.get(name)
        if config is None:
            raise NotFound(f"no provider named {name!r}; providers: {', '.join(self.names())}")
        return config

    def get(self, name: str) -> ChatProvider:
        """The provider called `name` (built on first use); NotFound names the configured ones;
        a disabled one raises."""
        config = self.config_of(name)
        if not config.enabled:
            raise ProviderError(
                f"provider {name!r} is disabled (providers.{name}.enabled = false)", provider=name
            )
        with self._lock:
            provider = self._providers.get(name)
            if provider is None:
                cls = provider_class(config.type)
                provider = self._providers[name] = cls(
                    name=name, config=config, api_key=self._key_source(name, config)
                )
        return provider

    def is_available(self, name: str) -> bool:
        """Configured, enabled, and its key can be found (no network is tried)."""
        config = self._configs.get(name)
        if config is None or not config.enabled:
            return False
        if not self.get(name).needs_key():
            return True
        return self._find_key(name, config, use=False) is not None

    def info(self, name: str) -> dict[str, Any]:
        """The record `Provider.list/get` show: no secrets, only where the key comes from."""
        config = self.config_of(name)
        provider = self.get(name) if config.enabled else None
        capabilities = provider.capabilities() if provider else None
        return {
            "name": name,
            "type": config.type,
            "enabled": config.enabled,
            "available": self.is_available(name),
            "model": provider.model if provider else config.model,
            "base_url": redact_secrets(config.base_url),
            "api_key_env": config.key_env,
            "builtin": name == BUILTIN_MOCK and name not in self.config.providers,
            "capabilities": capabilities.as_dict() if capabilities else None,
        }

    def resolve(self, model: str) -> tuple[ChatProvider, str]:
        """The provider and model a model name means:
        `"name/model"` (a configured provider's name, or a type only one provider has),
        `"name"` (that provider's default model), or a bare model served by the only
        configured provider. Errors list the providers there are."""
        name, rest = self.choose(model)
        provider = self.get(name)
        return provider, rest if rest is not None else provider.model

    def choose(self, model: str) -> tuple[str, str | None]:
        """The provider's name and the model `resolve` picks for `model`, without building
        the provider (None: the provider's default model)."""
        if not isinstance(model, str) or not model.strip():
            raise InvalidArgument(f"model must be a non-empty string, got {model!r}")
        model = model.strip()
        configured = sorted(self.config.providers)
        listed = ", ".join(self.names())
        head, sep, rest = model.partition("/")
        if sep and rest:
            name = self._provider_named(head)
            if name is not None:
                return name, rest
        if not sep and model in self._configs:
            return model, None
        if sep and rest and head not in self._configs:
            raise NotFound(
                f"unknown provider {head!r} in model {model!r}; providers: {listed} "
                f"(add a [providers.{head}] section to the config)"
            )
        if len(configured) == 1:
            return configured[0], model
        if not configured:
            raise NotFound(
                f"model {model!r} names no provider and none is configured; write "
                "'provider/model' with one of: "
                f"{listed} (add [providers.<name>] with type = openai|anthropic|ollama|mock)"
            )
        raise NotFound(
            f"model {model!r} names no provider; write 'provider/model' with one of: {listed}"
        )

    def _provider_named(self, head: str) -> str | None:
        if head in self._configs:
            return head
        of_type = [n for n, c in self.config.providers.items() if c.type == head]
        return of_type[0] if len(of_type) == 1 else None

    # --- keys ----------------------------------------------------------------------------------

    def _key_source(self, name: str, config: ProviderConfig) -> Callable[[], str | None]:
        def key() -> str | None:
            if config.type in ("mock", "ollama") and not config.api_key_env:
                return None
            found = self._find_key(name, config, use=True)
            if found is None:
                env_name = config.key_env
                where = f"set {env_name} or " if env_name else ""
                raise MissingApiKey(
                    f"provider {name!r} needs an API key: {where}run `llmspell keys add {name}`",
                    provider=name,
                )
            return found

        return key

    def _find_key(self, name: str, config: ProviderConfig, use: bool) -> str | None:
        """The key from the environment variable, else the key store under the provider's
        name, then its type; None when there is none. Without `use`, a stored key is only
        looked for (a placeholder stands for it): an availability check is not a use."""
        env_name = config.key_env
        if env_name and os.environ.get(env_name):
            return os.environ[env_name]
        if self._stored_keys is None:
            return None
        keys = self._stored_keys()
        for service in dict.fromkeys((name, config.type)):
            if use:
                secret = keys.secret(service)
                if secret:
                    return secret
            elif keys.has(service):
                return "<stored>"
        return None

    # --- calls ----------------------------------------------------------------------------------

    def start(self, provider: ChatProvider, request: ChatRequest, stream: bool) -> PendingCall:
        """Send `request` now; the script's thread waits with `PendingCall.wait`."""
        with self._lock:
            self._last[provider.name] = request
        call = PendingCall(f"provider {provider.name!r}")
        return call.start(self.loop, provider.chat(request, call.on_text if stream else None))

    def call(
        self,
        provider: ChatProvider,
        request: ChatRequest,
        stop_requested: Callable[[], bool] = lambda: False,
        on_text: Callable[[str], None] | None = None,
    ) -> ChatResponse:
        """Send `request` and wait for the reply (streamed to `on_text` when given)."""
        pending = self.start(provider, request, stream=on_text is not None)
        result: ChatResponse = pending.wait(stop_requested, on_text)
        return result

    def complete(
        self,
        model: str,
        prompt: str,
        stop_requested: Callable[[], bool] = lambda: False,
        temperature: float | None = 0.0,
    ) -> str:
        """Ask `model` ("provider/model") one prompt, with no tools and no history; its text."""
        from llmspell.runtime.providers.messages import ChatRequest, Message

        provider, name = self.resolve(model)
        request = ChatRequest(
            model=name, messages=(Message("user", prompt),), temperature=temperature
        )
        return self.call(provider, request, stop_requested).text

    def last_request(self, name: str) -> ChatRequest | None:
        """The last request sent to provider `name` in this runtime."""
        self.config_of(name)
        with self._lock:
            return self._last.get(name)

    def close(self) -> None:
        with self._lock:
            providers = list(self._providers.values())
            self._providers.clear()

        async def close_all() -> None:
            for provider in providers:
                await provider.aclose()

        self.loop.close(close_all())


__all__ = ["BUILTIN_MOCK", "DEFAULT_KEY_ENV", "ProviderManager", "provider_class"]
