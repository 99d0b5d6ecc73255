"""Model management on an Ollama server through its native API (`/api/version`, `/api/tags`,
`/api/show`, `/api/ps`, `/api/pull`), for the `LocalLLM` global. Chat goes through the
OpenAI-compatible `/v1` API (`openai_compat.OllamaProvider`); this is the rest of Ollama."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from llmspell.runtime.errors import DomainError


class LocalBackendError(DomainError):
    """A local model backend is not configured, not reachable, or refused a request."""

    ename = "LocalLLMError"


@dataclass(frozen=True)
class OllamaServer:
    """An Ollama server's native API at `base_url` (its root, not `/v1`)."""

    base_url: str
    timeout_s: float

    @classmethod
    def from_provider_url(cls, url: str, timeout_s: float) -> OllamaServer:
        """The server behind a provider's `/v1` base URL."""
        root = url.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        return cls(root, timeout_s)

    def version(self) -> str | None:
        return self._get("/api/version").get("version")

    def models(self) -> list[dict[str, Any]]:
        """`{id, backend, size_bytes, quantization, modified_at (Unix seconds), family,
        parameter_size, digest}` for each model the server has."""
        return [_model(m) for m in self._get("/api/tags").get("models") or []]

    def loaded(self) -> set[str]:
        """Names of the models held in memory now."""
        return {m.get("name") or m.get("model") for m in self._get("/api/ps").get("models") or []}

    def show(self, name: str) -> dict[str, Any]:
        return self._post("/api/show", {"model": name})

    def pull(self, name: str) -> dict[str, Any]:
        """Pull `name`, following the server's progress lines; returns the final progress
        `{model_id, status, percent_complete, bytes_downloaded, bytes_total, error}`."""
        totals: dict[str, tuple[int, int]] = {}  # digest -> (completed, total)
        status, error = "starting", None
        try:
            with (
                httpx.Client(timeout=self.timeout_s) as client,
                client.stream(
                    "POST", f"{self.base_url}/api/pull", json={"model": name, "stream": True}
                ) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    raise LocalBackendError(_refusal("pull", response))
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("error"):
                        status, error = "failed", str(event["error"])
                        break
                    digest = event.get("digest")
                    if digest and event.get("total"):
                        totals[digest] = (int(event.get("completed") or 0), int(event["total"]))
                    status = _pull_status(str(event.get("status", "")))
        except httpx.HTTPError as exc:
            raise LocalBackendError(f"Ollama at {self.base_url} is not reachable: {exc}") from None
        done = sum(c for c, _ in totals.values())
        total = sum(t for _, t in totals.values())
        if status == "complete":
            done = total
        percent = (
            100.0 if status == "complete" else (round(100 * done / total, 1) if total else 0.0)
        )
        return {
            "model_id": name,
            "status": status,
            "percent_complete": percent,
            "bytes_downloaded": done,
            "bytes_total": total or None,
            "error": error,
        }

    def _get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path, None)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = httpx.request(
                method, f"{self.base_url}{path}", json=body, timeout=self.timeout_s
            )
        except httpx.HTTPError as exc:
            raise LocalBackendError(f"Ollama at {self.base_url} is not reachable: {exc}") from None
        if response.status_code >= 400:
            raise LocalBackendError(_refusal(path, response))
        data = response.json()
        if not isinstance(data, dict):
            raise LocalBackendError(f"Ollama {path} answered {type(data).__name__}, not an object")
        return data


def _refusal(what: str, response: httpx.Response) -> str:
    try:
        detail = response.json().get("error") or response.text
    except (ValueError, AttributeError):
        detail = response.text
    return f"Ollama refused {what} (HTTP {response.status_code}): {detail}"


def _pull_status(text: str) -> str:
    """Ollama's progress text as the reference's statuses."""
    if text == "success":
        return "complete"
    if text.startswith(("pulling", "downloading")):
        return "downloading"
    if text.startswith(("verifying", "writing", "removing")):
        return "verifying"
    return "starting"


def _model(raw: dict[str, Any]) -> dict[str, Any]:
    details = raw.get("details") or {}
    return {
        "id": raw.get("name") or raw.get("model"),
        "backend": "ollama",
        "size_bytes": int(raw.get("size") or 0),
        "quantization": details.get("quantization_level"),
        "modified_at": _unix_seconds(raw.get("modified_at")),
        "family": details.get("family"),
        "parameter_size": details.get("parameter_size"),
        "format": details.get("format"),
        "digest": raw.get("digest"),
    }


def _unix_seconds(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        # Ollama writes nanoseconds (`2024-05-01T10:00:00.123456789-07:00`)
        head, _, rest = text.partition(".")
        zone = rest.lstrip("0123456789") if rest else ""
        return int(datetime.fromisoformat(head + zone).timestamp())
    except ValueError:
        return None
