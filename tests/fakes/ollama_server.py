"""A fake Ollama server speaking its native model-management API (`/api/version`, `/api/tags`,
`/api/show`, `/api/ps`, `/api/pull` with NDJSON progress) on 127.0.0.1, for `LocalLLM` tests.
Models live in memory; a pull of a name in `pullable` adds it, any other is refused as Ollama
refuses it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "0.5.7"


def tag(name: str, size: int, quantization: str = "Q4_K_M") -> dict[str, Any]:
    """A model as `/api/tags` lists it."""
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-02T03:04:05.123456789Z",
        "size": size,
        "digest": f"sha256:{abs(hash(name)):x}",
        "details": {
            "format": "gguf",
            "family": "llama",
            "parameter_size": "8.0B",
            "quantization_level": quantization,
        },
    }


class FakeOllama:
    """`with FakeOllama() as ollama:` serves until the block ends; `ollama.url` is its root."""

    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {"llama3.1:8b": tag("llama3.1:8b", 4_920_753_328)}
        self.loaded: set[str] = {"llama3.1:8b"}
        self.pullable: dict[str, int] = {"tinyllama:latest": 637_700_138}
        self.paths: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        self.fake.paths.append(f"GET {self.path}")
        if self.path == "/api/version":
            self._json(200, {"version": VERSION})
        elif self.path == "/api/tags":
            self._json(200, {"models": list(self.fake.models.values())})
        elif self.path == "/api/ps":
            self._json(200, {"models": [{"name": n, "model": n} for n in self.fake.loaded]})
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        self.fake.paths.append(f"POST {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        name = body.get("model", "")
        if self.path == "/api/show":
            model = self.fake.models.get(name)
            if model is None:
                self._json(404, {"error": f"model '{name}' not found"})
                return
            self._json(
                200,
                {
                    "details": model["details"],
                    "model_info": {"general.parameter_count": 8_030_261_248},
                },
            )
        elif self.path == "/api/pull":
            self._pull(name)
        else:
            self._json(404, {"error": f"no route {self.path}"})

    def _pull(self, name: str) -> None:
        full = name if ":" in name else f"{name}:latest"
        size = self.fake.pullable.get(full)
        lines: list[dict[str, Any]]
        if size is None:
            lines = [
                {"status": "pulling manifest"},
                {"error": "pull model manifest: file does not exist"},
            ]
        else:
            half = size // 2
            lines = [
                {"status": "pulling manifest"},
                {"status": "pulling abc", "digest": "sha256:abc", "total": size, "completed": half},
                {"status": "pulling abc", "digest": "sha256:abc", "total": size, "completed": size},
                {"status": "verifying sha256 digest"},
                {"status": "writing manifest"},
                {"status": "success"},
            ]
            self.fake.models[full] = tag(full, size)
        payload = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
