"""How calls fail, for every provider type: retries on 429 and 5xx, timeouts, refused and
missing keys, unknown models, unreachable servers, and a call cancelled while it streams.
Every failure is a ProviderError that says what to do; none shows the key."""

from __future__ import annotations

import socket
import time

import pytest
from fakes.llm_servers import Error, FakeLLMServer, Hang, Reply
from provider_helpers import TEST_KEY, Connect, Vendor

from llmspell.runtime.errors import Interrupted
from llmspell.runtime.providers import ChatRequest, Message, MissingApiKey, ProviderError

HELLO = ChatRequest(model="fake-small", messages=(Message("user", "Hello?"),))


def test_a_rate_limit_with_retry_after_is_retried_once_and_then_succeeds(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, max_retries=2)
    fake_llm.script(Error(429, "slow down", retry_after=0), Reply("Made it."))
    assert c.manager.call(c.provider, HELLO).text == "Made it."
    first, second = fake_llm.chat_requests
    assert first.body == second.body
    assert second.headers["x-stainless-retry-count"] == "1"


def test_a_server_error_that_persists_names_the_status_the_message_and_the_retries(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, max_retries=1)
    fake_llm.fallback = Error(503, "the backend is on fire")
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    error = caught.value
    assert error.status == 503 and error.provider == vendor.type
    message = str(error)
    assert f"provider '{vendor.type}'" in message
    assert "503: the backend is on fire" in message
    assert f"after 1 retry (providers.{vendor.type}.max_retries = 1)" in message
    assert len(fake_llm.chat_requests) == 2


def test_a_rate_limit_that_persists_says_so_with_the_retries_made(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, max_retries=1)
    fake_llm.fallback = Error(429, "quota exceeded for today", retry_after="0")
    with pytest.raises(ProviderError, match=r"429: quota exceeded for today.*after 1 retry"):
        c.manager.call(c.provider, HELLO)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("hang", [Hang(), Hang(after_text="It depends")], ids=["silent", "stalls"])
def test_a_server_that_does_not_answer_fails_after_timeout_s(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer, stream: bool, hang: Hang
) -> None:
    c = connect(vendor, timeout_s=0.5, max_retries=0)
    fake_llm.script(hang)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO, on_text=(lambda _: None) if stream else None)
    assert time.monotonic() - started < 20  # not the 60 s default, nor forever
    assert str(caught.value) == (
        f"provider '{vendor.type}' did not answer within 0.5 s "
        f"(providers.{vendor.type}.timeout_s) with no retry "
        f"(providers.{vendor.type}.max_retries = 0)"
    )
    assert caught.value.status is None


def test_a_refused_key_names_where_the_key_comes_from_and_never_shows_it(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, key="sk-wrong-key-abcdef123456")
    # a server that quotes the key it got (OpenAI quotes a masked one)
    fake_llm.script(Error(401, "Incorrect API key provided: sk-wrong-key-abcdef123456."))
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    message = str(caught.value)
    assert caught.value.status == 401
    assert message.startswith(f"provider '{vendor.type}' rejected the API key (401: ")
    assert f"check {vendor.key_env} or run `llmspell keys add {vendor.type}`" in message
    assert "abcdef123456" not in message and "sk-wrong" not in message
    assert len(fake_llm.chat_requests) == 1  # a refused key is not tried again


def test_no_key_at_all_fails_before_anything_is_sent(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, key=None)
    with pytest.raises(MissingApiKey, match=rf"set {vendor.key_env} or run `llmspell keys add"):
        c.manager.call(c.provider, HELLO)
    assert fake_llm.requests == []


def test_an_unknown_model_lists_the_models_the_server_offers(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.models = ["small-1", "large-2"]
    fake_llm.script(Error(404, "model 'fake-small' not found"))
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    assert caught.value.status == 404
    assert str(caught.value) == (
        f"provider '{vendor.type}' has no model 'fake-small' (404: model 'fake-small' not "
        "found); models it lists: small-1, large-2"
    )


def test_an_unknown_model_without_a_listing_points_at_the_model_and_base_url(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor)
    fake_llm.models = []
    fake_llm.script(Error(404, "no such model"))
    with pytest.raises(ProviderError, match=r"check the model name and providers\.\w+\.base_url"):
        c.manager.call(c.provider, HELLO)


def test_another_client_error_shows_the_status_and_the_server_message(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer
) -> None:
    c = connect(vendor, max_retries=3)
    fake_llm.script(Error(400, "messages: at least one message is required"))
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    assert str(caught.value) == (
        f"provider '{vendor.type}' refused the request "
        "(400: messages: at least one message is required)"
    )
    assert len(fake_llm.chat_requests) == 1


def test_an_unreachable_server_is_named_by_its_base_url(vendor: Vendor, connect: Connect) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    c = connect(vendor, base_url=url, max_retries=0)
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    message = str(caught.value)
    assert message.startswith(f"cannot reach provider '{vendor.type}' at {url} (")
    assert f"check providers.{vendor.type}.base_url" in message


def test_an_unreachable_server_is_named_without_the_password_of_its_base_url(
    vendor: Vendor, connect: Connect
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    c = connect(vendor, base_url=f"http://u:pw-base-93@127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(ProviderError) as caught:
        c.manager.call(c.provider, HELLO)
    message = str(caught.value)
    assert message.startswith(f"cannot reach provider '{vendor.type}' at http://u:***@127.0.0.1:")
    assert "pw-base-93" not in message


@pytest.mark.parametrize(
    ("hang", "stream"),
    [(Hang(), False), (Hang(), True), (Hang(after_text="Thinking it over"), True)],
    ids=["silent", "silent-streamed", "stalled-stream"],
)
def test_cancelling_a_call_returns_at_once_and_closes_the_connection(
    vendor: Vendor, connect: Connect, fake_llm: FakeLLMServer, hang: Hang, stream: bool
) -> None:
    c = connect(vendor)
    fake_llm.script(hang)
    pending = c.manager.start(c.provider, HELLO, stream=stream)
    pieces: list[str] = []
    stop_at: list[float] = []

    def stop_requested() -> bool:
        # once the request is in (and, for a reply that stalls, its text arrived)
        if fake_llm.chat_requests and "".join(pieces) == hang.after_text:
            stop_at.append(time.monotonic())
            return True
        return False

    with pytest.raises(Interrupted):
        pending.wait(stop_requested=stop_requested, on_text=pieces.append)
    # the server never answers: returning at all is the cancel's doing; the bound is wide for a
    # busy machine and far below the 30 s timeout (`connect`) a missed cancel would end at
    assert time.monotonic() - stop_at[0] < 10
    assert "".join(pieces) == hang.after_text
    assert fake_llm.wait_for_disconnect(timeout_s=10)
    # the provider is still usable
    fake_llm.script(Reply("Back again."))
    assert c.manager.call(c.provider, HELLO).text == "Back again."


def test_a_key_is_not_needed_for_ollama_and_a_placeholder_is_sent(
    connect: Connect, fake_llm: FakeLLMServer
) -> None:
    from provider_helpers import VENDORS

    ollama = next(v for v in VENDORS if v.type == "ollama")
    c = connect(ollama, key=None, api_key_env="")
    assert not c.provider.needs_key() and c.manager.is_available("ollama")
    assert c.manager.call(c.provider, HELLO).text == "OK"
    (sent,) = fake_llm.chat_requests
    assert ollama.sent_key(sent.headers) not in (None, "", TEST_KEY)
