"""What every provider is: a configured model endpoint that answers a `ChatRequest`, and the
errors it raises. Vendor modules (`openai_compat`, `anthropic`, `mock`) implement `ChatProvider`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from llmspell.runtime.errors import ServiceError

if TYPE_CHECKING:
    from llmspell.runtime.config import ProviderConfig
    from llmspell.runtime.providers.messages import ChatRequest, ChatResponse, TextSink


class ProviderError(ServiceError):
    """A provider call failed: no key, refused key, unknown model, HTTP error after the
    retries, timeout, unreachable server. The message names the provider, the status and the
    server's own words, and what to do."""

    ename = "ProviderError"

    def __init__(self, message: str, *, provider: str, status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status


class MissingApiKey(ProviderError):
    """The provider needs a key and none is set in its environment variable or the key store."""


@dataclass(frozen=True)
class Capabilities:
    """What a provider offers, as `Provider.getCapabilities` shows it."""

    supports_streaming: bool = True
    supports_tools: bool = True
    supports_multimodal: bool = False
    max_context_tokens: int | None = None
    available_models: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "supports_streaming": self.supports_streaming,
            "supports_tools": self.supports_tools,
            "supports_multimodal": self.supports_multimodal,
            "max_context_tokens": self.max_context_tokens,
            "available_models": list(self.available_models),
        }


# Returns the API key the provider should send (None: it needs none); raises MissingApiKey.
KeySource = Callable[[], "str | None"]


@dataclass
class ChatProvider(ABC):
    """One `[providers.<name>]` entry, ready to answer requests.

    `chat` runs on the provider manager's event loop (one per runtime); it may be called for
    several requests at once (parallel workflow steps). With `on_text`, the reply is streamed
    and every piece of text is passed to `on_text` as it arrives; the returned response holds
    the whole reply either way. Cancelling the task cancels the HTTP request."""

    type: ClassVar[str]
    default_model: ClassVar[str] = ""

    name: str
    config: ProviderConfig
    api_key: KeySource = field(repr=False)

    @property
    def model(self) -> str:
        """The model used when an agent names only the provider."""
        return self.config.model or self.default_model

    @abstractmethod
    async def chat(self, request: ChatRequest, on_text: TextSink | None = None) -> ChatResponse:
        """Send `request`; the model's reply. Raises ProviderError."""

    def capabilities(self) -> Capabilities:
        """What this provider offers (no network: what its type and config say)."""
        models = tuple(dict.fromkeys(m for m in (self.model, *self.config.models) if m))
        return Capabilities(available_models=models)

    def needs_key(self) -> bool:
        """Whether calls need an API key."""
        return True

    async def aclose(self) -> None:  # noqa: B027 - providers without connections keep nothing
        """Release HTTP connections (on the event loop)."""
