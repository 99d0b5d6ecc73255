"""A fake LLM vendor server: one local HTTP server that speaks OpenAI's Chat Completions API
(`POST /v1/chat/completions`, `GET /v1/models`) and Anthropic's Messages API
(`POST /v1/messages`, `GET /v1/models`), both as JSON and as server-sent events. It answers
from a script — replies, tool calls, HTTP errors, delays, hangs — and records every request.

    from fakes.llm_servers import Error, FakeLLMServer, Hang, Reply, ToolCall

    with FakeLLMServer() as server:
        server.script(
            Error(429, retry_after=0),
            Reply(tool_calls=[ToolCall("calc.add", {"a": 1, "b": 2})]),
            Reply("The sum is 3."),
        )
        # point a provider at it: {"type": "openai", "base_url": server.openai_url}
        # or {"type": "anthropic", "base_url": server.anthropic_url} (same server, same script)
        ...
        assert server.chat_requests[1].headers["authorization"] == "Bearer sk-test"

The script is a queue shared by both APIs: each chat request takes the next answer, or
`fallback` (a `Reply("OK")` unless given) when the queue is empty. `latency_s` delays every
answer (concurrent requests wait concurrently). A `Hang` never answers: the handler waits until
the client goes away (recorded as `disconnected`; `wait_for_disconnect` waits for one) or the
server stops. Benchmarks import it after `sys.path.insert(0, "<repo>/tests")`; nothing here
imports pytest.
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from fakes.llm_script import Answer, Error, Hang, Reply, ToolCall
from fakes.llm_wire import error_body, models_body, reply_body, reply_events, stock_message

__all__ = [
    "Answer",
    "Error",
    "FakeLLMServer",
    "Hang",
    "RecordedRequest",
    "Reply",
    "ToolCall",
]

POLL_S = 0.02  # how often a waiting handler looks whether its client is still there


@dataclass
class RecordedRequest:
    """A request the server received. `headers` have lower-case names; `body` is the parsed
    JSON (None for a GET); `disconnected` is set when the client went away before the answer
    was complete."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api: str  # "openai", "anthropic" or "" (models, unknown paths)
    disconnected: bool = False

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class FakeLLMServer:
    """The server (see the module's docstring). Start and stop it with `with`."""

    def __init__(
        self,
        *,
        fallback: Answer | None = None,
        latency_s: float = 0.0,
        models: Sequence[str] = ("fake-small", "fake-large"),
    ) -> None:
        self.fallback: Answer = fallback if fallback is not None else Reply("OK")
        self.latency_s = latency_s
        self.models = list(models)
        self._queue: deque[Answer] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            raise RuntimeError("the fake server is already running")
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-llm-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: hanging handlers end, open connections are closed."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- where it is ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the fake server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def openai_url(self) -> str:
        """`base_url` for an OpenAI-compatible client (type openai or ollama)."""
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        """`base_url` for an Anthropic client (it adds /v1/messages itself)."""
        return self.url

    def base_url(self, provider_type: str) -> str:
        """`base_url` for a provider of `provider_type` (openai, ollama or anthropic)."""
        return self.anthropic_url if provider_type == "anthropic" else self.openai_url

    # --- the script -------------------------------------------------------------------------

    def script(self, *answers: Answer) -> None:
        """Queue answers for the next chat requests, in order."""
        with self._lock:
            self._queue.extend(answers)

    def pending(self) -> int:
        """Scripted answers not given yet."""
        with self._lock:
            return len(self._queue)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._queue.popleft() if self._queue else self.fallback

    # --- what it received -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat requests (either API) received, in order."""
        return [r for r in self.requests if r.api]

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> bool:
        """Wait until `count` chat requests have arrived."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(1 for r in self._requests if r.api) >= count, timeout_s
            )

    def wait_for_disconnect(self, timeout_s: float = 5.0) -> bool:
        """Wait until a client has gone away before its answer was complete."""
        with self._changed:
            return self._changed.wait_for(
                lambda: any(r.disconnected for r in self._requests), timeout_s
            )

    def _record(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def _mark_disconnected(self, request: RecordedRequest) -> None:
        with self._changed:
            request.disconnected = True
            self._changed.notify_all()

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hanging handler must not hold up stop()
    request_queue_size = 128  # benchmarks open many connections at once
    fake: FakeLLMServer


class _ClientGone(Exception):
    """The client closed the connection."""


class _Stopping(Exception):
    """The server is stopping: a waiting handler gives up."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked server-sent events
    # Headers and body go out as separate writes: without TCP_NODELAY the second one waits for
    # the client's delayed ACK (40 ms on Linux), which would swamp every latency measured here.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routing ----------------------------------------------------------------------------

    def do_GET(self) -> None:
        fake = self.server.fake
        fake._record(RecordedRequest("GET", self.path, self._headers(), None, ""))
        if self.path.split("?")[0].rstrip("/") in ("/v1/models", "/models"):
            self._send_json(200, models_body(fake.models))
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        route = self.path.split("?")[0].rstrip("/")
        api = (
            "openai"
            if route.endswith("/chat/completions")
            else "anthropic"
            if route.endswith("/messages")
            else ""
        )
        record = RecordedRequest("POST", self.path, self._headers(), body, api)
        fake._record(record)
        if not api:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        if not isinstance(body, dict):
            self._send_error(api, Error(400, "the body is not a JSON object"))
            return
        answer = fake._next_answer()
        try:
            self._wait(fake.latency_s + getattr(answer, "delay_s", 0.0))
            if isinstance(answer, Error):
                self._send_error(api, answer)
            elif isinstance(answer, Hang):
                self._hang(api, answer, record)
            elif record.stream:
                self._stream(api, answer, record)
            else:
                self._send_json(200, reply_body(api, answer, body, fake._next_id))
        except (_ClientGone, BrokenPipeError, ConnectionResetError):
            fake._mark_disconnected(record)
            self.close_connection = True
        except _Stopping:
            self.close_connection = True

    # --- waiting, watching the client -----------------------------------------------------------

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return bool(self.connection.recv(1, socket.MSG_PEEK) == b"")
        except (OSError, ValueError):
            return True

    def _wait(self, seconds: float) -> None:
        """Sleep `seconds`, raising _ClientGone as soon as the client goes away."""
        end = time.monotonic() + seconds
        while True:
            if self.server.fake._stopping.is_set():
                raise _Stopping
            if self._client_gone():
                raise _ClientGone
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_S, left))

    def _hang(self, api: str, hang: Hang, record: RecordedRequest) -> None:
        if record.stream and hang.after_text:
            self._start_events()
            stalled = Reply(hang.after_text)
            for event, _ in reply_events(
                api, stalled, record.body, self.server.fake._next_id, True
            ):
                self._send_event(event)
        while True:
            self._wait(3600)

    # --- answering ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def _send_json(
        self, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, api: str, error: Error) -> None:
        headers = dict(error.headers)
        if error.retry_after is not None:
            headers["Retry-After"] = str(error.retry_after)
        message = error.message if error.message is not None else stock_message(error.status)
        self._send_json(error.status, error_body(api, error.status, message), headers)

    def _start_events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_event(self, event: str) -> None:
        data = event.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _stream(self, api: str, reply: Reply, record: RecordedRequest) -> None:
        self._start_events()
        first = True
        for event, is_piece in reply_events(api, reply, record.body, self.server.fake._next_id):
            if is_piece and not first and reply.piece_delay_s:
                self._wait(reply.piece_delay_s)
            first = first and not is_piece
            self._send_event(event)
        self.wfile.write(b"0\r\n\r\n")
