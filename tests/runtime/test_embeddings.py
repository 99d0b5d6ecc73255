"""Embedding providers: the offline local model, OpenAI-compatible servers (a fake one here),
hashing for tests; batching, the content-hash cache and the token counter."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from llmspell.runtime.config import EmbeddingsConfig
from llmspell.runtime.embeddings import Embedder, build_provider, count_tokens, token_spans
from llmspell.runtime.embeddings import local as local_module
from llmspell.runtime.errors import ServiceError


def test_the_local_model_loads_offline_and_ranks_by_meaning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the local model tried to use the network")

    monkeypatch.setattr(local_module, "_loaded", None)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    embedder = Embedder(build_provider(EmbeddingsConfig()))
    assert (embedder.model, embedder.dimension) == ("wordllama-l2_supercat-256", 256)
    cat, kitten, revenue = embedder.embed(
        ["the cat sleeps on the sofa", "a kitten naps on the couch", "quarterly revenue grew"]
    )
    assert np.linalg.norm(cat) == pytest.approx(1.0, abs=1e-5)
    assert float(cat @ kitten) > float(cat @ revenue)


def test_the_truncated_local_model_has_128_dimensions() -> None:
    embedder = Embedder(build_provider(EmbeddingsConfig(model="wordllama-l2_supercat-128")))
    assert embedder.embed(["x y"]).shape == (1, 128)
    with pytest.raises(ValueError, match="allowed: wordllama-l2_supercat-256"):
        build_provider(EmbeddingsConfig(model="bert"))


class Counting:
    """A provider that counts the texts it is asked to embed."""

    name = "hash"
    model = "counting"
    dimension = 128

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed_batch(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.ones((len(texts), self.dimension), dtype=np.float32)


def test_texts_are_embedded_in_batches_and_each_distinct_text_once() -> None:
    provider = Counting()
    embedder = Embedder(provider, batch_size=2)
    vectors = embedder.embed(["a", "b", "a", "c", "d"])
    assert vectors.shape == (5, 128)
    assert provider.batches == [["a", "b"], ["c", "d"]]
    embedder.embed(["d", "a"])
    assert len(provider.batches) == 2, "cached by content hash"
    assert embedder.embed([]).shape == (0, 128)


def test_the_cache_is_bounded() -> None:
    provider = Counting()
    embedder = Embedder(provider, cache_size=2)
    embedder.embed(["a", "b", "c"])
    embedder.embed(["a"])
    assert provider.batches[-1] == ["a"], "the oldest entry was evicted"


def test_hash_embeddings_are_deterministic_and_share_words() -> None:
    embedder = Embedder(build_provider(EmbeddingsConfig(provider="hash", dimensions=128)))
    a, b, c = embedder.embed(["red apple pie", "red apple", "blue sky"])
    assert embedder.model == "hash-128"
    assert np.allclose(
        a,
        Embedder(build_provider(EmbeddingsConfig(provider="hash", dimensions=128))).embed_one(
            "red apple pie"
        ),
    )
    assert float(a @ b) > float(a @ c)


def test_the_token_counter_counts_with_the_bundled_tokenizer() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    text = "Tokens, counted offline!"
    spans = token_spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert len(spans) == count_tokens(text)
    assert Embedder(Counting()).count_tokens(text) == len(spans)


class FakeOpenAI(BaseHTTPRequestHandler):
    """`POST /v1/embeddings` in OpenAI's wire format; `replies` scripts the answers."""

    requests: list[dict[str, Any]] = []
    replies: list[tuple[int, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        status, reply = FakeOpenAI.replies.pop(0) if FakeOpenAI.replies else (200, None)
        if reply is None:
            size = body.get("dimensions", 384)
            reply = {
                "object": "list",
                "model": body["model"],
                "data": [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": [float(len(t))] + [0.5] * (size - 1),
                    }
                    for i, t in reversed(list(enumerate(body["input"])))
                ],
            }
        payload = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    FakeOpenAI.requests = []
    FakeOpenAI.replies = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_provider_speaks_the_wire_format_with_the_key_from_the_environment(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-test")
    config = EmbeddingsConfig(
        provider="openai", model="text-embedding-3-small", base_url=server,
        api_key_env="TEST_EMBED_KEY", dimensions=256, batch_size=2,
    )  # fmt: skip
    embedder = Embedder(build_provider(config), batch_size=config.batch_size)
    vectors = embedder.embed(["a", "bbb", "cc"])
    assert vectors.shape == (3, 256) and embedder.dimension == 256
    first = FakeOpenAI.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["body"] == {
        "model": "text-embedding-3-small",
        "input": ["a", "bbb"],
        "dimensions": 256,
    }
    assert first["auth"] == "Bearer sk-test"
    assert len(FakeOpenAI.requests) == 2
    assert vectors[0][0] < vectors[1][0], "rows follow the input order, not the reply order"


def test_ollama_uses_the_same_format_and_learns_the_dimension(server: str) -> None:
    provider = build_provider(EmbeddingsConfig(provider="ollama", base_url=server))
    assert provider.model == "nomic-embed-text"
    assert provider.dimension == 384, "probed from the server"
    assert FakeOpenAI.requests[0]["auth"] is None


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ((401, {"error": {"message": "bad key"}}), "answered HTTP 401: bad key"),
        ((200, {"nothing": 1}), "not an embeddings list"),
        ((200, {"data": []}), "returned 0 vectors for 1 texts"),
    ],
)
def test_server_failures_are_clear_errors(
    server: str, reply: tuple[int, Any], message: str
) -> None:
    FakeOpenAI.replies = [reply]
    provider = build_provider(EmbeddingsConfig(provider="openai", base_url=server))
    with pytest.raises(ServiceError, match=message):
        provider.embed_batch(["x"])


def test_a_missing_key_variable_and_an_unreachable_server_are_clear_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    provider = build_provider(
        EmbeddingsConfig(
            provider="openai", base_url="http://127.0.0.1:9/v1", api_key_env="NO_SUCH_KEY"
        )
    )
    with pytest.raises(
        ServiceError, match="'NO_SUCH_KEY', but that environment variable is not set"
    ):
        provider.embed_batch(["x"])
    unreachable = build_provider(
        EmbeddingsConfig(provider="openai", base_url="http://127.0.0.1:9/v1")
    )
    with pytest.raises(ServiceError, match="is unreachable"):
        unreachable.embed_batch(["x"])


def test_local_dimensions_are_chosen_by_model_not_by_dimensions() -> None:
    with pytest.raises(ValueError, match=r"embeddings\.dimensions applies to openai/ollama"):
        build_provider(EmbeddingsConfig(dimensions=128))
