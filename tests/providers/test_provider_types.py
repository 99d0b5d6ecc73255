"""What each provider type assumes without being told (no network here): endpoints, default
models, keys, capabilities, and which reply-limit field OpenAI itself gets."""

from __future__ import annotations

from typing import Any

import pytest

from llmspell.runtime.config import LLMSpellConfig
from llmspell.runtime.providers import ChatProvider, ChatRequest, Message, ProviderManager
from llmspell.runtime.providers.anthropic import AnthropicProvider
from llmspell.runtime.providers.anthropic import request_params as anthropic_params
from llmspell.runtime.providers.openai_compat import OllamaProvider, OpenAIProvider
from llmspell.runtime.providers.tool_wire import ToolNames


def provider(type_: str, **settings: Any) -> ChatProvider:
    config = LLMSpellConfig.model_validate({"providers": {"p": {"type": type_, **settings}}})
    return ProviderManager(config).get("p")


def test_each_type_is_built_by_the_manager() -> None:
    assert isinstance(provider("openai"), OpenAIProvider)
    assert isinstance(provider("anthropic"), AnthropicProvider)
    assert isinstance(provider("ollama"), OllamaProvider)


def test_ollama_runs_locally_with_a_default_model_and_no_key() -> None:
    ollama = provider("ollama")
    assert isinstance(ollama, OllamaProvider)
    assert ollama.base_url == "http://localhost:11434/v1"
    assert ollama.model == "llama3.2"
    assert not ollama.needs_key()
    assert provider("ollama", api_key_env="OLLAMA_TOKEN").needs_key()
    assert provider("ollama", base_url="http://gpu-box:11434/v1").model == "llama3.2"


def test_openai_defaults_to_its_own_api_and_model() -> None:
    openai = provider("openai")
    assert isinstance(openai, OpenAIProvider)
    assert (openai.base_url, openai.model) == ("https://api.openai.com/v1", "gpt-4o-mini")
    # a compatible server that lacks the default model answers 404: the error lists its models
    assert provider("openai", base_url="http://localhost:8000/v1").model == "gpt-4o-mini"
    assert provider("openai", base_url="http://localhost:8000/v1", model="qwen").model == "qwen"


@pytest.mark.parametrize(
    ("base_url", "field"),
    [("", "max_completion_tokens"), ("http://localhost:8000/v1", "max_tokens")],
)
def test_openai_itself_gets_max_completion_tokens_other_servers_max_tokens(
    base_url: str, field: str
) -> None:
    openai = provider("openai", base_url=base_url)
    assert isinstance(openai, OpenAIProvider)
    request = ChatRequest(model="m", messages=(Message("user", "hi"),), max_tokens=50)
    params = openai.request_params(request, ToolNames.of(request))
    assert params[field] == 50
    assert ({"max_tokens", "max_completion_tokens"} - {field}).isdisjoint(params)


def test_anthropic_needs_max_tokens_and_takes_no_temperature() -> None:
    request = ChatRequest(model="m", messages=(Message("user", "hi"),), temperature=0.3)
    params = anthropic_params(request, ToolNames.of(request))
    assert params["max_tokens"] == 4096
    assert "temperature" not in params  # the installed client's API has none


def test_capabilities_say_what_each_type_offers() -> None:
    gpt = provider("openai", model="gpt-4o", models=["gpt-4.1-mini"]).capabilities()
    assert (gpt.supports_tools, gpt.supports_streaming, gpt.max_context_tokens) == (
        True,
        True,
        128_000,
    )
    assert gpt.available_models == ("gpt-4o", "gpt-4.1-mini")
    assert provider("anthropic").capabilities().max_context_tokens == 200_000
    assert provider("ollama").capabilities().max_context_tokens is None
    # what a compatible server runs under a model's name is its own business
    compatible = provider("openai", base_url="http://x/v1", model="gpt-4o")
    assert compatible.capabilities().max_context_tokens is None
