"""The embedding providers there are, declared once: each one's config name, the models it
offers, its default model (and server), whether it works offline and what it is for.
`[embeddings] provider` accepts these names, `build_provider` builds them and
`RAG.list_providers` lists them. Plain data: config validation reads it without numpy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ProviderName = Literal["local", "openai", "ollama", "hash"]
PROVIDER_NAMES: tuple[str, ...] = get_args(ProviderName)

# `local` model name -> dimension it is truncated to (wordllama's weights are matryoshka-trained).
LOCAL_MODELS = {"wordllama-l2_supercat-256": 256, "wordllama-l2_supercat-128": 128}
DEFAULT_LOCAL_MODEL = "wordllama-l2_supercat-256"


@dataclass(frozen=True)
class ProviderEntry:
    """One embedding provider as `RAG.list_providers` shows it."""

    name: ProviderName
    models: str  # what `embeddings.model` may name
    default_model: str  # the model used when `embeddings.model` is ""
    offline: bool
    description: str
    base_url: str = ""  # HTTP providers: the API root used when `embeddings.base_url` is ""


PROVIDERS: dict[str, ProviderEntry] = {
    entry.name: entry
    for entry in (
        ProviderEntry(
            "local",
            models=", ".join(LOCAL_MODELS),
            default_model=DEFAULT_LOCAL_MODEL,
            offline=True,
            description="wordllama, bundled in its wheel; nothing downloads",
        ),
        ProviderEntry(
            "openai",
            models="any the server offers",
            default_model="text-embedding-3-small",
            offline=False,
            description="an OpenAI-compatible /v1/embeddings server (api_key_env)",
            base_url="https://api.openai.com/v1",
        ),
        ProviderEntry(
            "ollama",
            models="any pulled embedding model",
            default_model="nomic-embed-text",
            offline=False,
            description="a local Ollama server's /v1/embeddings",
            base_url="http://localhost:11434/v1",
        ),
        ProviderEntry(
            "hash",
            models="hash",
            default_model="hash",
            offline=True,
            description="deterministic word hashing, for tests only",
        ),
    )
}
