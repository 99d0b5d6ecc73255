"""`openai` / `ollama`: any server speaking the OpenAI `/v1/embeddings` wire format.

OpenAI itself, Ollama, vLLM, LM Studio... `base_url` is the API root (`.../v1`); the request is
`POST {base_url}/embeddings {"model", "input": [...], "dimensions"?}`. The key comes from the
environment variable named by `api_key_env` and never appears in an error.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from llmspell.runtime.embeddings.catalog import PROVIDERS
from llmspell.runtime.errors import ServiceError
from llmspell.runtime.host_limits import UNLIMITED, HostLimits

# provider name -> (API root, model) used when the config leaves them empty
DEFAULTS = {
    name: (PROVIDERS[name].base_url, PROVIDERS[name].default_model) for name in ("openai", "ollama")
}


class OpenAIEmbeddingProvider:
    """Embeddings from an OpenAI-compatible HTTP server."""

    def __init__(
        self,
        name: str = "openai",
        *,
        model: str = "",
        base_url: str = "",
        api_key_env: str = "",
        dimensions: int = 0,
        timeout_s: float = 60.0,
        limits: HostLimits = UNLIMITED,
    ) -> None:
        default_url, default_model = DEFAULTS[name]
        self.name = name
        self._model = model or default_model
        self.base_url = (base_url or default_url).rstrip("/")
        self.api_key_env = api_key_env
        self._requested_dimensions = dimensions
        self._dimension = dimensions or 0
        self.timeout_s = timeout_s
        self._limits = limits  # a script waiting for the server stops at once when it must
        self._client: Any = None

    @property
    def model(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        if not self._dimension:
            # The server is the only one that knows its model's size: ask once with a probe.
            self.embed_batch(["dimension probe"])
        return self._dimension

    def _headers(self) -> dict[str, str]:
        if not self.api_key_env:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ServiceError(
                f"embeddings.api_key_env names {self.api_key_env!r}, but that environment "
                "variable is not set"
            )
        return {"Authorization": f"Bearer {key}"}

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        import httpx  # loaded only by runtimes that use a remote embedding server

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s)
        body: dict[str, Any] = {"model": self._model, "input": texts}
        if self._requested_dimensions:
            body["dimensions"] = self._requested_dimensions
        url = f"{self.base_url}/embeddings"
        client, headers = self._client, self._headers()
        try:
            response = self._limits.wait(
                lambda: client.post(url, json=body, headers=headers), "an embedding request"
            )
        except httpx.HTTPError as exc:
            raise ServiceError(f"embedding server {url} is unreachable: {exc}") from None
        if response.status_code != 200:
            raise ServiceError(
                f"embedding server {url} answered HTTP {response.status_code}: "
                f"{_error_text(response)}"
            )
        return self._vectors(url, response, len(texts))

    def _vectors(self, url: str, response: Any, expected: int) -> np.ndarray:
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(
                f"embedding server {url} sent a reply that is not an embeddings list ({exc})"
            ) from None
        if vectors.ndim != 2 or vectors.shape[0] != expected:
            raise ServiceError(
                f"embedding server {url} returned {vectors.shape[0] if vectors.ndim else 0} "
                f"vectors for {expected} texts"
            )
        if self._dimension and vectors.shape[1] != self._dimension:
            raise ServiceError(
                f"embedding server {url} returned {vectors.shape[1]}-d vectors; model "
                f"{self._model!r} gave {self._dimension}-d before"
            )
        self._dimension = int(vectors.shape[1])
        return vectors

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _error_text(response: Any) -> str:
    try:
        detail = response.json().get("error", response.text)
        if isinstance(detail, dict):
            detail = detail.get("message", detail)
    except ValueError:
        detail = response.text
    return str(detail)[:300]
