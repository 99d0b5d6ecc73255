"""`LocalLLM`: local model backends. Ollama is the configured provider of type `ollama` (its
server's native API, `runtime/providers/ollama_models.py`); Candle (in-process inference) is not
part of llmspell and always reports why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmspell.runtime.api.arguments import optional_str, require_str
from llmspell.runtime.api.base import ApiNamespace, ValidationError

if TYPE_CHECKING:
    from llmspell.runtime.providers.ollama_models import OllamaServer

# The Ollama client (httpx, the providers package, openai) is imported by the functions that
# use it: every runtime start builds this global, few scripts call it.

BACKENDS = ("ollama", "candle")
CANDLE_UNAVAILABLE = (
    "Candle is not available: llmspell runs no models in-process; serve the model with Ollama "
    "and configure a provider of type 'ollama'"
)
NO_OLLAMA = (
    "no provider of type 'ollama' is configured: add [providers.<name>] with type = \"ollama\" "
    "(and base_url when the server is not at http://localhost:11434)"
)


class LocalLLMApi(ApiNamespace):
    """Local models: `status()`, `list(backend?)`, `pull(spec)`, `info(model_id)`. Model specs
    are `name[:tag][@backend]` (`llama3.1:8b@ollama`); the backend defaults to ollama."""

    api_name = "LocalLLM"

    def status(self) -> dict[str, Any]:
        """Health of each backend: `{ollama = {running, models, version?, error?}, candle =
        {ready, models, version?, error}}`; never raises (a problem is in `error`)."""
        from llmspell.runtime.providers.ollama_models import LocalBackendError

        ollama: dict[str, Any] = {"running": False, "models": 0, "version": None, "error": None}
        try:
            server = self._ollama()
            ollama["version"] = server.version()
            ollama["models"] = len(server.models())
            ollama["running"] = True
        except LocalBackendError as exc:
            ollama["error"] = str(exc)
        candle = {"ready": False, "models": 0, "version": None, "error": CANDLE_UNAVAILABLE}
        return {"ollama": ollama, "candle": candle}

    def list(self, backend: str | None = None) -> list[dict[str, Any]]:
        """Models of `backend` ("ollama" or "candle"; nil = every available backend), each
        `{id, backend, size_bytes, quantization?, modified_at? (Unix seconds), family?,
        parameter_size?, format?, digest?}`. Raises naming the reason when the backend (or,
        without one, every backend) is unavailable."""
        from llmspell.runtime.providers.ollama_models import LocalBackendError

        backend = optional_str("LocalLLM.list", "backend", backend)
        if backend is not None:
            return self._server_of("LocalLLM.list", backend).models()
        try:
            return self._ollama().models()
        except LocalBackendError as exc:
            raise LocalBackendError(
                f"no local backend is available: {exc}; {CANDLE_UNAVAILABLE}"
            ) from None

    def pull(self, spec: str) -> dict[str, Any]:
        """Download `spec` (`name[:tag][@backend]`) into its backend and wait until done:
        `{model_id, status ("complete" or "failed"), percent_complete, bytes_downloaded,
        bytes_total?, error?}`."""
        name, backend = _spec("LocalLLM.pull", spec)
        return self._server_of("LocalLLM.pull", backend).pull(name)

    def info(self, model_id: str) -> dict[str, Any]:
        """Details of a local model (`name[:tag][@backend]`): `{id, backend, size_bytes, format,
        loaded, parameter_count?, quantization?, family?, modified_at?}`."""
        from llmspell.runtime.providers.ollama_models import LocalBackendError

        name, backend = _spec("LocalLLM.info", model_id)
        server = self._server_of("LocalLLM.info", backend)
        listed = {m["id"]: m for m in server.models()}
        model = listed.get(name) or listed.get(f"{name}:latest")
        if model is None:
            raise LocalBackendError(
                f"model {name!r} is not on the Ollama server; pull it with "
                f'LocalLLM.pull("{name}@ollama")'
            )
        shown = server.show(model["id"])
        details = shown.get("details") or {}
        model_info = shown.get("model_info") or {}
        return {
            "id": model["id"],
            "backend": "ollama",
            "size_bytes": model["size_bytes"],
            "format": details.get("format") or model["format"],
            "loaded": model["id"] in server.loaded(),
            "parameter_count": model_info.get("general.parameter_count"),
            "quantization": details.get("quantization_level") or model["quantization"],
            "family": details.get("family") or model["family"],
            "modified_at": model["modified_at"],
        }

    def _server_of(self, fn: str, backend: str) -> OllamaServer:
        from llmspell.runtime.providers.ollama_models import LocalBackendError

        if backend not in BACKENDS:
            raise ValidationError(
                f"{fn}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}"
            )
        if backend == "candle":
            raise LocalBackendError(f"{fn}: {CANDLE_UNAVAILABLE}")
        return self._ollama()

    def _ollama(self) -> OllamaServer:
        """The first enabled provider of type ollama, by name."""
        from llmspell.runtime.providers.ollama_models import LocalBackendError, OllamaServer
        from llmspell.runtime.providers.openai_compat import OLLAMA_URL

        for _, provider in sorted(self._ctx.config.providers.items()):
            if provider.type == "ollama" and provider.enabled:
                return OllamaServer.from_provider_url(
                    provider.base_url or OLLAMA_URL, provider.timeout_s
                )
        raise LocalBackendError(NO_OLLAMA)


def _spec(fn: str, spec: Any) -> tuple[str, str]:
    """`name[:tag][@backend]` → (name[:tag], backend)."""
    text = require_str(fn, "spec", spec)
    name, at, backend = text.partition("@")
    if not name or (at and not backend):
        raise ValidationError(f"{fn}: spec must be name[:tag][@backend], got {text!r}")
    return name, backend or "ollama"
