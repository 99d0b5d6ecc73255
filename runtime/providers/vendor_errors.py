"""What a failed call says: the exceptions of the official `openai` and `anthropic` clients
(built by the same generator, so their classes have the same shapes) turned into a
`ProviderError` that names the provider, the status and the server's own words, how many
retries were made, and what to do. The key never appears in it."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmspell.runtime.providers.base import ProviderError
from llmspell.storage.redaction import redact_secrets

if TYPE_CHECKING:
    from llmspell.runtime.config import ProviderConfig

logger = logging.getLogger("llmspell.providers")

MAX_SERVER_MESSAGE = 500  # characters of the server's own message quoted in an error
MAX_LISTED_MODELS = 20
LIST_MODELS_TIMEOUT_S = 5.0
# Things that look like API keys, in case a server quotes one (OpenAI quotes a masked key).
_KEY_LIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-*.]{4,}")


@dataclass(frozen=True)
class VendorErrors:
    """One vendor client's exception classes."""

    client: type[Exception]  # the root of everything the client raises (OpenAIError, ...)
    status: type[Exception]  # APIStatusError: an HTTP error status (status_code, body)
    timeout: type[Exception]  # APITimeoutError (a subclass of `connection`)
    connection: type[Exception]  # APIConnectionError: refused, unreachable, dropped


@dataclass(frozen=True)
class CallSite:
    """What an error message names: the provider, the model asked for, where it was sent."""

    provider: str
    model: str
    base_url: str
    config: ProviderConfig
    key: str | None = None

    @property
    def shown_url(self) -> str:
        """`base_url` as messages show it: without a password."""
        return redact_secrets(self.base_url)


@asynccontextmanager
async def translated_errors(
    errors: VendorErrors,
    site: CallSite,
    list_models: Callable[[], Awaitable[Sequence[str]]],
) -> AsyncIterator[None]:
    """Raise a `ProviderError` for anything the vendor client raises inside the block; on a
    404, the models the server lists are named too (best effort)."""
    try:
        yield
    except errors.client as error:
        models: Sequence[str] = ()
        if isinstance(error, errors.status) and _status_of(error) == 404:
            models = await _models_quietly(list_models)
        raise provider_error(error, errors, site, models) from error


def provider_error(
    error: Exception, errors: VendorErrors, site: CallSite, models: Sequence[str] = ()
) -> ProviderError:
    """The `ProviderError` a vendor client's exception means (see the module's docstring)."""
    name, setting = site.provider, f"providers.{site.provider}"
    retries = _retries_made(error)
    if isinstance(error, errors.status):
        status = _status_of(error)
        said = _server_message(error, site.key)
        quoted = f"({status}: {said})" if said else f"({status})"
        if status in (401, 403):
            where = f"check {site.config.key_env} or run" if site.config.key_env else "run"
            message = (
                f"provider {name!r} rejected the API key {quoted}; "
                f"{where} `llmspell keys add {name}`"
            )
        elif status == 404:
            if models and site.model not in models:
                hint = f"models it lists: {', '.join(models)}"
            else:
                hint = f"check the model name and {setting}.base_url ({site.shown_url})"
            message = f"provider {name!r} has no model {site.model!r} {quoted}; {hint}"
        elif status == 429:
            message = (
                f"provider {name!r} is limiting the request rate {quoted} "
                f"{_after(retries, site)}; wait and try again"
            )
        elif status >= 500:
            message = (
                f"provider {name!r} failed with a server error {quoted} {_after(retries, site)}"
            )
        elif status >= 400:
            message = f"provider {name!r} refused the request {quoted}"
        else:  # an error event in the middle of a streamed reply (the status was 200)
            message = f"provider {name!r} reported an error while answering: {said or status}"
            return ProviderError(message, provider=name)
        return ProviderError(message, provider=name, status=status)
    if isinstance(error, errors.timeout):
        return ProviderError(
            f"provider {name!r} did not answer within {site.config.timeout_s:g} s "
            f"({setting}.timeout_s) {_after(retries, site)}",
            provider=name,
        )
    if isinstance(error, errors.connection):
        return ProviderError(
            f"cannot reach provider {name!r} at {site.shown_url} ({_reason(error, site.key)}) "
            f"{_after(retries, site)}; is the server running? check {setting}.base_url",
            provider=name,
        )
    return ProviderError(f"provider {name!r} failed: {redact(str(error), site.key)}", provider=name)


def redact(text: str, key: str | None) -> str:
    """`text` without the key, nor anything that looks like one, nor a URL's password."""
    if key and len(key) >= 6:
        text = text.replace(key, "[key]")
    return redact_secrets(_KEY_LIKE.sub("[key]", text))


def _status_of(error: Exception) -> int:
    return int(getattr(error, "status_code", 0) or 0)


def _server_message(error: Exception, key: str | None) -> str:
    """The server's own words: `error.message` of a JSON body (OpenAI and Anthropic nest it
    under `error`; Ollama sends a string there), else the body's text."""
    body: Any = getattr(error, "body", None)
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping | str):
        body = body["error"]
    if isinstance(body, Mapping):
        text = str(body.get("message") or body.get("detail") or body)
    elif isinstance(body, str):
        text = body
    else:
        response = getattr(error, "response", None)
        text = str(getattr(response, "reason_phrase", "") or "")
    text = " ".join(text.split())
    if len(text) > MAX_SERVER_MESSAGE:
        text = text[:MAX_SERVER_MESSAGE] + "…"
    return redact(text, key)


def _retries_made(error: Exception) -> int | None:
    """How many times the client tried again: it numbers each attempt in a request header."""
    request = getattr(error, "request", None)
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    try:
        return int(headers.get("x-stainless-retry-count", ""))
    except ValueError:
        return None


def _after(retries: int | None, site: CallSite) -> str:
    setting = f"providers.{site.provider}.max_retries = {site.config.max_retries}"
    if retries is None:
        return f"after the retries ({setting})"
    if retries == 0:
        return f"with no retry ({setting})"
    return f"after {retries} {'retry' if retries == 1 else 'retries'} ({setting})"


def _reason(error: Exception, key: str | None) -> str:
    """Why a connection failed: the network error under the client's generic message."""
    cause: BaseException | None = error.__cause__
    reason = str(cause) if cause is not None and str(cause) else str(error)
    return redact(" ".join(reason.split()) or type(error).__name__, key)


async def _models_quietly(list_models: Callable[[], Awaitable[Sequence[str]]]) -> Sequence[str]:
    try:
        models = await asyncio.wait_for(list_models(), LIST_MODELS_TIMEOUT_S)
    except Exception:
        logger.debug("listing the models after a 404 failed", exc_info=True)
        return ()
    return list(models)[:MAX_LISTED_MODELS]
