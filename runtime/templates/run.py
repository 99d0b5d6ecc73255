"""What a template's code works with while it runs (`TemplateRun`: the model, files inside
`tools.allowed_paths`, the tools, RAG and State, and what it has produced so far) and the
result every template returns (`TemplateRun.output`, the reference's `TemplateOutput`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmspell.runtime.errors import InvalidArgument

if TYPE_CHECKING:
    from llmspell.runtime.infrastructure import Infrastructure
    from llmspell.runtime.providers import ProviderManager
    from llmspell.runtime.providers.messages import Usage

# provider types that run locally and cost nothing per token
FREE_PROVIDER_TYPES = frozenset({"mock", "ollama"})
MAX_FILE_BYTES = 2 * 1024 * 1024  # a file a template reads whole


def _no_usage() -> Usage:
    # the providers package (asyncio, the SDKs) loads when a template runs, not at every start
    from llmspell.runtime.providers.messages import Usage

    return Usage()


@dataclass
class TemplateRun:
    """One execution of a template."""

    template_id: str
    version: str
    infra: Infrastructure
    model: str
    stop_requested: Callable[[], bool] = lambda: False
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=_no_usage)
    api_calls: int = 0
    free: bool = True
    started_at: float = field(default_factory=time.time)
    _clock: float = field(default_factory=time.perf_counter)

    @property
    def providers(self) -> ProviderManager:
        from llmspell.runtime.providers import ProviderManager

        return self.infra.get(ProviderManager)

    @property
    def allowed_paths(self) -> list[str]:
        return list(self.infra.config.tools.allowed_paths)

    def ask(
        self,
        prompt: str,
        system: str | None = None,
        history: list[dict[str, str]] | None = None,
        temperature: float | None = None,
    ) -> str:
        """The model's answer to `prompt` (after `system` and earlier `history` turns)."""
        if not self.model:
            raise InvalidArgument(
                'no model: pass the parameter model (e.g. model = "mock" offline) or set '
                "agents.default_model in the config"
            )
        provider, name = self.providers.resolve(self.model)
        from llmspell.runtime.providers.messages import ChatRequest, Message

        messages = [Message("system", system)] if system else []
        messages += [Message(h["role"], h["content"]) for h in history or []]  # type: ignore[arg-type]
        messages.append(Message("user", prompt))
        request = ChatRequest(model=name, messages=tuple(messages), temperature=temperature)
        response = self.providers.call(provider, request, self.stop_requested)
        self.api_calls += 1
        self.usage = self.usage + response.usage
        if provider.config.type not in FREE_PROVIDER_TYPES:
            self.free = False
        return response.text

    def read_text(self, path: str) -> tuple[Path, str]:
        """A text file inside `tools.allowed_paths`: its resolved path and text."""
        from llmspell.runtime.tools.paths import resolve_allowed_path

        resolved = resolve_allowed_path(path, self.allowed_paths)
        if not resolved.is_file():
            raise InvalidArgument(f"{path!r} is not a file")
        if resolved.stat().st_size > MAX_FILE_BYTES:
            raise InvalidArgument(f"{path!r} is larger than {MAX_FILE_BYTES} bytes")
        try:
            return resolved, resolved.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(f"{path!r} is not UTF-8 text") from None

    def artifact(
        self, filename: str, artifact_type: str, content: str, **metadata: Any
    ) -> dict[str, Any]:
        item = {
            "filename": filename,
            "artifact_type": artifact_type,
            "content": content,
            "metadata": metadata,
        }
        self.artifacts.append(item)
        return item

    def output(self, result: Any) -> dict[str, Any]:
        """The reference's `TemplateOutput` for a successful run."""
        return {
            "success": True,
            "result": result,
            "artifacts": self.artifacts,
            "metadata": {
                "template_id": self.template_id,
                "template_version": self.version,
                "execution_id": str(uuid.uuid4()),
                "started_at": int(self.started_at),
                "completed_at": int(time.time()),
                "model": self.model or None,
                "extra": self.extra,
            },
            "metrics": {
                "duration_ms": round((time.perf_counter() - self._clock) * 1000, 3),
                "tokens_used": self.usage.total_tokens,
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "cost_usd": 0.0 if self.free else None,
                "api_calls": self.api_calls,
            },
            "error": None,
        }
