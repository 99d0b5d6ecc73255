"""LLM providers: configured model endpoints (OpenAI-compatible, Anthropic, Ollama, an offline
mock) behind one provider-neutral request/response model, called on an event loop the script
can interrupt."""

from llmspell.runtime.providers.base import (
    Capabilities,
    ChatProvider,
    MissingApiKey,
    ProviderError,
)
from llmspell.runtime.providers.calls import EventLoopThread, PendingCall
from llmspell.runtime.providers.manager import BUILTIN_MOCK, ProviderManager, provider_class
from llmspell.runtime.providers.messages import (
    ChatRequest,
    ChatResponse,
    Message,
    TextSink,
    ToolCallRequest,
    ToolSpec,
    Usage,
)

__all__ = [
    "BUILTIN_MOCK",
    "Capabilities",
    "ChatProvider",
    "ChatRequest",
    "ChatResponse",
    "EventLoopThread",
    "Message",
    "MissingApiKey",
    "PendingCall",
    "ProviderError",
    "ProviderManager",
    "TextSink",
    "ToolCallRequest",
    "ToolSpec",
    "Usage",
    "provider_class",
]
